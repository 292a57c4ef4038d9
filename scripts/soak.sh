#!/usr/bin/env bash
# Soak test: mixed load with misbehaving clients against one server, while
# well-behaved clients run a checked workload (docs/API.md "Limits").
#
#   scripts/soak.sh [DURATION_SECONDS] [BINARY]   (default 60 s, .build/debug/mmsim)
#
# Misbehaving clients, each from its own loopback address (127.0.0.x, so the
# per-client caps count them apart): slowloris (blank lines before the request
# line and headers, one byte at a time), idle sockets past the per-client
# cap, huge MAP_POPULATE and MADV_POPULATE_WRITE, fork loops of a populated
# process, SSE subscribers that stop reading, malformed JSON, oversized
# bodies. Well-behaved clients (mmap, two faults, the VMA list, munmap, each
# answer checked) run all along. Prints the server's peak VmRSS, the answers
# and closes per kind, and `N passed, N failed` over its checks: every
# well-behaved request answered correctly, the server alive, each
# misbehaviour given its bounded answer, peak RSS within max_total_pages x
# 430 B + OVERHEAD_MIB; exits 1 on any failure. Python standard library only; journals go to a scratch dir.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-60}
BIN=${2:-${MMSIM_BIN:-.build/debug/mmsim}}
OVERHEAD_MIB=${OVERHEAD_MIB:-200}   # the server's own memory beside the pages: code, logs, buffers, sessions
TOTAL_PAGES=${TOTAL_PAGES:-200000}  # max_total_pages for the run (~430 B of server memory each)
WORK=$(mktemp -d /tmp/mmsim-soak.XXXXXX)
"$BIN" --port 0 --host 127.0.0.1 --access_log false --data_dir "$WORK/data" \
  --max_total_pages "$TOTAL_PAGES" --max_session_pages 100000 --max_body_bytes 1048576 \
  --read_timeout_seconds 2 --body_timeout_seconds 2 --idle_timeout_seconds 3 --send_timeout_seconds 3 \
  --max_connections 256 --max_connections_per_client 64 >"$WORK/server.out" 2>"$WORK/server.err" &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 200); do grep -q "listening on" "$WORK/server.out" && break; sleep 0.05; done
URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$WORK/server.out" | head -1)
[ -n "$URL" ] || { echo "soak: server did not start"; cat "$WORK/server.err"; echo "0 passed, 1 failed"; exit 1; }
python3 - "$URL" "$PID" "$DURATION" "$TOTAL_PAGES" "$OVERHEAD_MIB" <<'EOF'
import collections, http.client, json, os, socket, sys, threading, time

url, pid, duration, total_pages, overhead = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
host, port = url.split("//")[1].rstrip("/").split(":")
port = int(port)
stop = time.time() + duration
counts = collections.Counter()        # (kind, outcome) -> n
lock = threading.Lock()
def count(kind, outcome, n=1):
    with lock: counts[(kind, str(outcome))] += n

class Conn(http.client.HTTPConnection):
    """An HTTP connection from a chosen loopback source address."""
    def __init__(self, source):
        super().__init__(host, port, timeout=30, source_address=(source, 0))
def call(c, method, path, body=None):
    c.request(method, path, body=None if body is None else json.dumps(body).encode(),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    try: return r.status, json.loads(data) if data else None
    except ValueError: return r.status, None
def raw(source):
    s = socket.create_connection((host, port), timeout=10, source_address=(source, 0))
    return s

# --- well-behaved: every answer checked
good = collections.Counter()
bad_examples = []
def well_behaved(k):
    c = Conn(f"127.0.0.{10 + k}")
    def check(ok, what):
        with lock:
            good["passed" if ok else "failed"] += 1
            if not ok and len(bad_examples) < 10: bad_examples.append(what)
    try:
        st, s = call(c, "POST", "/v1/sessions", {"kernel": "6.18"})
        check(st == 201, f"create: {st} {s}")
        sid = s["id"]
        st, p = call(c, "POST", f"/v1/sessions/{sid}/processes", {"comm": f"good{k}"})
        check(st == 201 and p["pid"] == 1, f"process: {st} {p}")
        base = f"/v1/sessions/{sid}/processes/1"
        addr, i = 0x7f0000000000 + k * 0x1000000, 0
        while time.time() < stop:
            a = hex(addr + (i % 64) * 0x10000); i += 1
            st, r = call(c, "POST", base + "/syscalls/mmap", {"addr": a, "length": 65536, "prot": "PROT_READ|PROT_WRITE",
                         "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED", "fd": -1, "offset": 0})
            check(st == 200 and r["return"] == a, f"mmap: {st} {r}")
            st, r = call(c, "POST", base + "/faults", {"address": a, "access": "write"})
            check(st == 200 and r["fault"] is True and r["handler"] == "do_anonymous_page", f"fault: {st} {r}")
            st, r = call(c, "POST", base + "/faults", {"address": a, "access": "read"})
            check(st == 200 and r["fault"] is False, f"present: {st} {r}")
            st, r = call(c, "GET", base + "/vmas")
            check(st == 200 and any(v["start"] == a for v in r["vmas"]), f"vmas: {st}")
            st, r = call(c, "POST", base + "/syscalls/munmap", {"addr": a, "length": 65536})
            check(st == 200 and r["return"] == 0, f"munmap: {st} {r}")
        st, _ = call(c, "DELETE", f"/v1/sessions/{sid}")
        check(st in (200, 204), f"delete: {st}")
    except Exception as e:
        check(False, f"well-behaved client {k}: {e!r}")

# --- misbehaving clients
def slowloris(k):
    """Blank lines before the request line, then a header, one byte at a time."""
    while time.time() < stop:
        try:
            s = raw("127.0.0.20"); t0 = time.time()
            payload = b"\r\n" * 400 + b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000
            for b in payload:
                if time.time() > stop: break
                s.send(bytes([b])); time.sleep(0.05)
            else:
                count("slowloris", "never closed"); continue
            s.close(); count("slowloris", "open when the run ended")
        except (BrokenPipeError, ConnectionResetError):
            count("slowloris", "closed by server after %ds" % round(time.time() - t0))
        except OSError as e:
            count("slowloris", type(e).__name__)

def idle_sockets():
    """More idle connections from one address than its cap."""
    held = []
    while time.time() < stop:
        try:
            s = raw("127.0.0.21"); held.append(s)
            s.settimeout(0.01)
            try:
                d = s.recv(200)
                count("idle", d.split(b" ")[1].decode() if d else "closed")
            except socket.timeout:
                count("idle", "held")
        except OSError as e:
            count("idle", type(e).__name__)
        if len(held) >= 200:
            for s in held: s.close()
            held = []
        time.sleep(0.02)
    for s in held: s.close()

def huge_populate():
    c = Conn("127.0.0.22")
    st, s = call(c, "POST", "/v1/sessions", {}); sid = s["id"]
    call(c, "POST", f"/v1/sessions/{sid}/processes", {"comm": "greedy"})
    base = f"/v1/sessions/{sid}/processes/1/syscalls"
    while time.time() < stop:
        st, r = call(c, "POST", base + "/mmap", {"addr": 0, "length": 1 << 36, "prot": "PROT_READ|PROT_WRITE",
                     "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE", "fd": -1, "offset": 0})
        count("MAP_POPULATE 64 GiB", st)
        st, r = call(c, "POST", base + "/mmap", {"addr": "0x200000000000", "length": 1 << 36, "prot": "PROT_READ|PROT_WRITE",
                     "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED|MAP_NORESERVE", "fd": -1, "offset": 0})
        st, r = call(c, "POST", base + "/madvise", {"addr": "0x200000000000", "length": 1 << 36, "advice": "MADV_POPULATE_WRITE"})
        count("MADV_POPULATE_WRITE 64 GiB", st)

def fork_loop():
    c = Conn("127.0.0.23")
    while time.time() < stop:
        st, s = call(c, "POST", "/v1/sessions", {}); sid = s["id"]
        call(c, "POST", f"/v1/sessions/{sid}/processes", {"comm": "forker"})
        st, r = call(c, "POST", f"/v1/sessions/{sid}/processes/1/syscalls/mmap", {"addr": 0, "length": 10000 * 4096,
                     "prot": "PROT_READ|PROT_WRITE", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_POPULATE", "fd": -1, "offset": 0})
        count("fork loop: populate 10,000 pages", st)
        for _ in range(100):
            if time.time() > stop: break
            st, r = call(c, "POST", f"/v1/sessions/{sid}/processes/1/syscalls/fork", {})
            if st != 200: count("fork loop: fork", st); break
            count("fork loop: fork", st)
        call(c, "DELETE", f"/v1/sessions/{sid}")

def sse_non_readers():
    c = Conn("127.0.0.24")
    st, s = call(c, "POST", "/v1/sessions", {}); sid = s["id"]
    call(c, "POST", f"/v1/sessions/{sid}/processes", {"comm": "busy"})
    subs = []
    for _ in range(20):
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind(("127.0.0.24", 0)); s.connect((host, port))
        s.sendall(f"GET /v1/sessions/{sid}/events HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        subs.append(s)
    ops = [{"op": "mmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096, "prot": "PROT_READ|PROT_WRITE",
            "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}, {"op": "munmap", "pid": 1, "addr": "0x7f0000000000", "length": 4096}]
    while time.time() < stop:
        st, _ = call(c, "POST", f"/v1/sessions/{sid}/ops", {"ops": ops * 200})
        count("SSE: producer batch", st)
    for s in subs:   # a subscriber the server dropped has its connection reset or closed
        try:
            s.settimeout(0.5); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            got = 0
            while True:
                d = s.recv(1 << 20)
                if not d: count("SSE non-reader", "dropped by server"); break
                got += len(d)
                if got > 64 << 20: count("SSE non-reader", "still streaming"); break
        except socket.timeout: count("SSE non-reader", "still open")
        except OSError: count("SSE non-reader", "dropped by server")
        s.close()

def malformed():
    c = Conn("127.0.0.25")
    bodies = [b"{bad", b"[1,2", b'{"kernel": 6.18', b"\xff\xfe", b'{"kernel": "6.18", "unknown": 1}', b"null"]
    i = 0
    while time.time() < stop:
        c.request("POST", "/v1/sessions", body=bodies[i % len(bodies)], headers={"Content-Type": "application/json"})
        r = c.getresponse(); r.read(); i += 1
        count("malformed JSON", r.status)
        time.sleep(0.005)

def oversized():
    while time.time() < stop:
        try:
            s = raw("127.0.0.26")
            s.sendall(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n")
            try:
                s.sendall(b"{" + b" " * (4 << 20))
            except OSError:
                pass
            s.settimeout(5)
            d = s.recv(200)
            count("oversized body (100 MB)", d.split(b" ")[1].decode() if d else "closed")
            s.close()
        except OSError as e:
            count("oversized body (100 MB)", type(e).__name__)
        time.sleep(0.05)

peak = [0]
def sample_rss():
    while time.time() < stop + 2:
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"): peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.1)

threads = [threading.Thread(target=well_behaved, args=(k,)) for k in range(4)]
threads += [threading.Thread(target=slowloris, args=(k,)) for k in range(10)]
threads += [threading.Thread(target=f) for f in (idle_sockets, huge_populate, fork_loop, sse_non_readers, malformed, oversized)]
threads.append(threading.Thread(target=sample_rss))
for t in threads: t.daemon = True; t.start()
for t in threads: t.join(duration + 60)

alive = os.path.exists(f"/proc/{pid}")
limit_mib = total_pages * 430 / 2**20 + overhead
print(f"soak: {duration:.0f} s; server peak VmRSS {peak[0] / 1024:.1f} MiB (limit: max_total_pages {total_pages} x 430 B "
      f"+ {overhead} MiB overhead = {limit_mib:.0f} MiB)")
print("answers and closes by kind:")
for (kind, outcome), n in sorted(counts.items()):
    print(f"   {kind:36} {outcome:28} {n}")
print(f"well-behaved requests: {good['passed']} answered correctly, {good['failed']} not")
for b in bad_examples: print("FAIL well-behaved:", b[:300])
def answered(kind, expected):
    got = {o for (k, o) in counts if k == kind}
    return bool(got) and got <= expected
checks = {
    f"every well-behaved request answered correctly ({good['passed']} requests)": good["passed"] > 0 and good["failed"] == 0,
    "server alive at the end": alive,
    f"peak RSS within {limit_mib:.0f} MiB": peak[0] / 1024 <= limit_mib,
    "huge populates refused (422)": answered("MAP_POPULATE 64 GiB", {"422"}) and answered("MADV_POPULATE_WRITE 64 GiB", {"422"}),
    "fork loops stopped by the budget": ("fork loop: fork", "422") in counts,
    "malformed JSON refused (400)": answered("malformed JSON", {"400"}),
    "oversized bodies refused (413)": answered("oversized body (100 MB)", {"413", "closed", "ConnectionResetError", "BrokenPipeError"})
                                      and ("oversized body (100 MB)", "413") in counts,
    "slowloris connections closed": any(k == "slowloris" and o.startswith("closed") for (k, o) in counts)
                                    and ("slowloris", "never closed") not in counts,
    "idle sockets past the cap refused": ("idle", "429") in counts or ("idle", "503") in counts or ("idle", "closed") in counts,
    "SSE non-readers dropped": ("SSE non-reader", "dropped by server") in counts and ("SSE non-reader", "still streaming") not in counts,
}
for name, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + name)
passed = sum(checks.values())
failed = sum(not ok for ok in checks.values())
print(f"soak: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
EOF
