"""outer: the run as invoked. Checks the environment (root, perf, tracefs),
runs the tracer (the entry script with --inner) under `perf record`,
converts perf.data (postprocess.py), makes the second run under strace,
and writes meta.json (meta.py)."""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys

from . import die
from .meta import report, write_meta
from .perfrun import perf_events, tracefs
from .postprocess import convert
from .strace import compare_runs, strace_run

# The entry point perf record runs as its workload (with --inner): the
# script next to this package, scripts/capture.py.
ENTRY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "capture.py")


def outer_main(args):
    if os.geteuid() != 0:
        die("must run as root (perf tracepoints, /proc/PID/smaps of other users)")
    if not args.command:
        die("no command given (usage: capture.py --out DIR -- PROGRAM ARGS...)")
    perf = shutil.which("perf")
    if not perf:
        die("perf not found (Debian: apt-get install linux-perf)")
    tfs = tracefs()
    if not tfs:
        die("tracefs not mounted: mount -t tracefs nodev /sys/kernel/tracing")
    out = os.path.abspath(args.out)
    args.stdin = os.path.abspath(args.stdin)
    os.makedirs(out, exist_ok=True)
    for sub in ("maps", "smaps"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    for name in ("perf.txt", "faults.tsv", "strace.txt", "meta.json", "stdout.txt", "stderr.txt"):
        try:
            os.unlink(os.path.join(out, name))
        except FileNotFoundError:
            pass
    ev_args, used, missing = perf_events(tfs)
    state_file = os.path.join(out, ".inner.json")
    env_file = os.path.join(out, ".env.json")
    cwd = os.path.abspath(args.cwd or os.getcwd())
    exe = args.command[0]
    if "/" not in exe:
        exe = shutil.which(exe)
        if exe is None:
            die("%s: command not found" % args.command[0])
    exe = os.path.normpath(os.path.join(cwd, exe))
    with os.fdopen(os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump({"env": dict(os.environ), "path": exe}, f)
    data = os.path.join(out, "perf.data")
    inner = [sys.executable, ENTRY, "--inner", "--out", out, "--state", state_file,
             "--env", env_file,
             "--stdin", args.stdin, "--stdout", os.path.join(out, "stdout.txt"),
             "--stderr", os.path.join(out, "stderr.txt"), "--", *args.command]
    cmd = [perf, "record", "-k", "CLOCK_MONOTONIC", "--sample-cpu", "-m", str(args.mmap_pages), "-o", data,
           *ev_args, "--", *inner]
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    finally:
        os.unlink(env_file)  # holds the whole environment: never leave it behind
    perf_log = r.stderr.decode(errors="replace")
    if not os.path.exists(state_file):
        die("the tracer did not finish (perf record exit %d):\n%s" % (r.returncode, perf_log))
    with open(state_file) as f:
        state = json.load(f)
    os.unlink(state_file)

    stats = subprocess.run([perf, "report", "-i", data, "--stats"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL).stdout.decode(errors="replace")
    lost = {k: int(v) for k, v in re.findall(r"(LOST\w*) events:\s+(\d+)", stats)}

    conv = convert(out, state, perf)
    if not args.keep_perf_data:
        os.unlink(data)
        for old in (data + ".old",):
            if os.path.exists(old):
                os.unlink(old)

    strace = {"skipped": "--no-strace"} if args.no_strace else strace_run(args, out, args.command)
    mmap_cmp = None if args.no_strace else compare_runs(out)

    write_meta(out, args, cwd, started, perf, cmd, used, missing, lost, perf_log, state, conv, strace, mmap_cmp)
    return report(out, state, conv, lost)
