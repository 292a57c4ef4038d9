"""Command line of scripts/capture.py: the options, and the dispatch to the
outer run (as invoked) or the inner tracer (--inner, perf's workload)."""

import argparse

from .outer import outer_main
from .tracer import inner_main


def main():
    ap = argparse.ArgumentParser(description="Record a program as an mmsim trace (see scripts/CAPTURE.md).")
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--stdin", default="/dev/null", help="the program's stdin (default /dev/null)")
    ap.add_argument("--cwd", default=None, help="run the program in this directory")
    ap.add_argument("--no-strace", action="store_true", help="skip the second run under strace")
    ap.add_argument("--keep-perf-data", action="store_true", help="keep perf.data (deleted by default)")
    ap.add_argument("--mmap-pages", default="2048", help="perf record -m (per-CPU buffer pages)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--state", help=argparse.SUPPRESS)
    ap.add_argument("--env", help=argparse.SUPPRESS)
    ap.add_argument("--stdout", help=argparse.SUPPRESS)
    ap.add_argument("--stderr", help=argparse.SUPPRESS)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if args.inner:
        return inner_main(args)
    return outer_main(args)
