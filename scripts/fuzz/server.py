"""Starts mmsim on a free loopback port with the fuzzer's limits."""

import os
import re
import select
import subprocess
import sys
import threading
import time

from .limits import IDLE_TIMEOUT, MAX_BATCH, MAX_BODY, MAX_HEADER, MAX_PROCS, MAX_SESSIONS, READ_TIMEOUT


def start_server(binary, public_dir, stderr_file):
    args = [binary, "--port", "0", "--host", "127.0.0.1", "--access_log", "false", "--public", public_dir,
            "--max_header_bytes", str(MAX_HEADER), "--max_body_bytes", str(MAX_BODY),
            "--max_sessions", str(MAX_SESSIONS), "--max_processes_per_session", str(MAX_PROCS),
            "--max_batch_ops", str(MAX_BATCH), "--read_timeout_seconds", str(READ_TIMEOUT),
            "--idle_timeout_seconds", str(IDLE_TIMEOUT), "--max_connections", "256",
            # The fuzz creates sessions faster than a person: no per-client creation rate,
            # and no journals written into the checkout.
            "--session_creates_per_minute_per_client", "0", "--data_dir", ""]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMSIM_")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr_file, stdin=subprocess.DEVNULL,
                            cwd=public_dir, env=env)
    line = b""
    deadline = time.monotonic() + 20
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            ch = os.read(proc.stdout.fileno(), 1)
            if not ch:
                break
            line += ch
    m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", line)
    if not m:
        proc.kill()
        sys.exit("fuzz: server did not start (first line %r)" % line)
    # Keep draining stdout so the server never blocks on it.
    threading.Thread(target=lambda: [None for _ in iter(lambda: proc.stdout.read(4096), b"")], daemon=True).start()
    return proc, int(m.group(1))
