"""The command line of scripts/fuzz_http.py and the whole run: start the
server, run two raw and two API workers side by side (each on sessions of
its own, from its own seed: see runner), check /healthz, the session limit
and the server's stderr, print the tally."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from . import __doc__ as PACKAGE_DOC
from .client import KeepAlive
from .limits import IO_TIMEOUT, MAX_SESSIONS
from .responses import Failure
from .runner import Runner
from .server import start_server


WORKERS = ["raw-1", "raw-2", "api-1", "api-2"]


def check_session_limit(runner, port):
    """Creates sessions until the server refuses: the refusal must be a 422
    limit_exceeded exactly when max_sessions are live."""
    conn = KeepAlive(port)
    try:
        live = json.loads(conn.request("GET", "/healthz")[2])["sessions"]
        created, st, body = 0, 201, b""
        while st == 201 and created <= MAX_SESSIONS:
            st, _h, body = conn.request("POST", "/v1/sessions", b"{}")
            created += st == 201
        code = json.loads(body).get("error", {}).get("code") if st != 201 else None
        runner.record(st == 422 and code == "limit_exceeded" and live + created == MAX_SESSIONS, "session limit",
                      "after %d live + %d created: %d %r" % (live, created, st, body[:200]))
    except (Failure, OSError, ValueError) as e:
        runner.record(False, "session limit", repr(e))
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser(description=PACKAGE_DOC.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get("MMSIM_BIN", ".build/debug/mmsim"))
    ap.add_argument("--count", type=int, default=12000, help="requests to send (at least 10000 for a pass)")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20240229")))
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds for the whole run")
    ap.add_argument("--show", type=int, default=25, help="failures to print")
    ap.add_argument("--min-count", type=int, default=10000)
    ap.add_argument("--only", choices=WORKERS, help="run this worker alone (to rerun a failing case)")
    ap.add_argument("--stop-after", type=int, default=None, help="requests per worker at most (to rerun a failing case)")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit("fuzz: %s is not an executable (run swift build first)" % args.bin)

    public_dir = tempfile.mkdtemp(prefix="mmsim-fuzz-")
    with open(os.path.join(public_dir, "index.html"), "w") as f:
        f.write("<!doctype html><title>fuzz</title>\n")
    with open(os.path.join(public_dir, "app.js"), "w") as f:
        f.write("// fuzz\n")
    stderr_path = os.path.join(public_dir, "stderr.log")
    stderr_file = open(stderr_path, "wb")
    proc, port = start_server(os.path.abspath(args.bin), public_dir, stderr_file)
    print("fuzz: server pid %d on 127.0.0.1:%d, seed %d, %d requests, time limit %.0f s"
          % (proc.pid, port, args.seed, args.count, args.time_limit), flush=True)
    print("fuzz: the same run again: python3 scripts/fuzz_http.py --bin %s --seed %d --count %d"
          % (args.bin, args.seed, args.count), flush=True)
    runner = Runner(args, port, proc)
    try:
        raw_n = args.count * 2 // 5
        api_n = args.count - raw_n
        plan = [("raw-1", runner.raw_worker, args.seed + 1, raw_n // 2),
                ("raw-2", runner.raw_worker, args.seed + 2, raw_n - raw_n // 2),
                ("api-1", runner.api_worker, args.seed + 3, api_n // 2),
                ("api-2", runner.api_worker, args.seed + 4, api_n - api_n // 2)]
        plan = [(name, fn, seed, min(n, args.stop_after or n)) for name, fn, seed, n in plan if args.only in (None, name)]
        threads = [threading.Thread(target=fn, args=(name, seed, n), daemon=True) for name, fn, seed, n in plan]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1.0, args.time_limit + IO_TIMEOUT + 2 - (time.monotonic() - runner.started)))
            if t.is_alive():
                runner.stop = True
                runner.record(False, "runner", "a worker did not finish in time (server hang?)")

        # The server must still be alive and healthy.
        if runner.alive():
            try:
                st, _h, body = KeepAlive(port).request("GET", "/healthz")
                ok = st == 200 and json.loads(body).get("status") == "ok"
                runner.record(ok, "final /healthz", "%d %r" % (st, body[:200]))
            except (Failure, OSError, ValueError) as e:
                runner.record(False, "final /healthz", repr(e))
            check_session_limit(runner, port)
        else:
            runner.crashed()
        elapsed = time.monotonic() - runner.started
        total = runner.passed + runner.failed
        if runner.out_of_time():
            print("fuzz: the time limit cut the run short: its counts depend on the machine's speed", flush=True)
        if total < args.min_count and args.only is None and args.stop_after is None:
            runner.record(False, "coverage", "only %d requests in %.1f s (need %d)" % (total, elapsed, args.min_count))
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stderr_file.close()
    with open(stderr_path, "rb") as f:
        err = f.read().decode("utf-8", "replace")
    for needle in ("internal error", "Fatal error", "fatal error", "Segmentation", "panic"):
        if needle in err:
            runner.record(False, "server stderr", "contains %r" % needle)
            break
    if runner.failed and err.strip():
        lines = err.splitlines()
        why = [l.strip() for l in lines if "Fatal error" in l or "runtime failure" in l or "internal error" in l][:3]
        crashed = next((i for i, l in enumerate(lines) if "crashed:" in l), 0)
        frames = [l.strip() for l in lines[crashed:] if " in mmsim at /" in l and ".swift:" in l][:6]
        print("fuzz: server stderr: " + ("\n  ".join([""] + why + frames) if why or frames else err[-1500:]))
    shutil.rmtree(public_dir, ignore_errors=True)
    summary = ", ".join("%s: %d" % kv for kv in sorted(runner.statuses.items()))
    print("fuzz: %.1f s; answers %s" % (time.monotonic() - runner.started, summary))
    print("fuzz: %d passed, %d failed" % (runner.passed, runner.failed))
