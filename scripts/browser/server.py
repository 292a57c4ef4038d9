"""The mmsim server under test (started with `--port 0 --public public`, or
MMSIM_URL for one already running) and plain JSON HTTP calls to it."""

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request

from . import OUT, REPO


def start_server():
    url = os.environ.get("MMSIM_URL")
    if url:
        return None, url.rstrip("/") + "/"
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MMSIM_BIN", ".build/debug/mmsim")
    binary = binary if os.path.isabs(binary) else os.path.join(REPO, binary)
    if not os.path.exists(binary):
        raise SystemExit(f"server binary not found: {binary}")
    os.makedirs(OUT, exist_ok=True)
    proc = subprocess.Popen([binary, "--port", "0", "--public", "public", "--data_dir", ""], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    log = open(os.path.join(OUT, "browser-test-server.log"), "w")
    found = {}
    ready = threading.Event()

    def pump():
        for line in proc.stdout:
            log.write(line); log.flush()
            m = re.search(r"mmsim listening on (http://\S+)", line)
            if m and not ready.is_set():
                found["url"] = m.group(1); ready.set()
        ready.set()
    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60) or "url" not in found:
        proc.kill()
        raise SystemExit("server did not print 'mmsim listening on http://…' (see test-output/browser-test-server.log)")
    u = found["url"]
    return proc, u if u.endswith("/") else u + "/"


def http(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")
