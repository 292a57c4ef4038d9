"""Random API traffic over keep-alive connections: syscalls, op batches,
faults, reads of every view, session/process/file creation, replay and
compare, and random JSON to random routes."""

import threading

from .limits import MAX_BATCH
from .values import BASE, PAGE, PATHS, SYSCALLS, encode_body, mutate, rnd_json_value, rnd_op, syscall_body


class Pool:
    """Sessions and processes the API fuzzer works on."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sessions = []  # ids


def api_case(r, conn, pool):
    """One random API request; returns (description, status)."""
    with pool.lock:
        sids = list(pool.sessions)
    sid = r.choice(sids) if sids and r.random() < 0.85 else r.choice(
        ["00000000-0000-4000-8000-000000000000", "nope", "", "%2e%2e", "a" * 200, "%00", sids[0].upper() if sids else "x"])
    pid = r.choice([1, 1, 1, 2, 2, 3]) if r.random() < 0.9 else r.choice(["0", "-1", "abc", "1.5", "99999999999999999999", "%31"])
    sp = "/v1/sessions/%s" % sid
    pp = "%s/processes/%s" % (sp, pid)
    c = r.random()
    if c < 0.30:
        name = r.choice(SYSCALLS) if r.random() < 0.95 else r.choice(["execve", "MMAP", "", "mmap/x"])
        body = syscall_body(r, name if name in SYSCALLS else "fork")
        return "syscall %s" % name, ("POST", "%s/syscalls/%s" % (pp, name), encode_body(r, body))
    if c < 0.45:
        pids = [1, 2, 3, 4]
        ops = [rnd_op(r, pids) for _ in range(r.choice([1, 5, 20, 50, MAX_BATCH, MAX_BATCH + 1]) if r.random() < 0.97 else 1)]
        body = {"ops": ops}
        if r.random() < 0.5:
            body["detail"] = r.choice(["summary", "full", "summary", "none", 1])
        return "ops", ("POST", sp + "/ops", encode_body(r, mutate(r, body)))
    if c < 0.58:
        op = rnd_op(r, [pid])
        if isinstance(op, dict):
            op.pop("op", None)
            op.pop("pid", None)
        return "fault", ("POST", pp + "/faults", encode_body(r, op))
    if c < 0.72:
        path = r.choice(["", "/stats", "/anon_vmas", "/log", "/files", "/processes", "/processes/%s" % pid,
                         "/processes/%s/vmas" % pid, "/processes/%s/maps" % pid, "/processes/%s/smaps" % pid,
                         "/processes/%s/pages" % pid, "/processes/%s/pages?start=%s&end=%s" % (pid, hex(BASE), hex(BASE + 0x100000)),
                         "/processes/%s/pages?start=%s" % (pid, r.choice(["x", "-1", "0x", "%zz", "18446744073709551616"])),
                         "/nothing", "/processes/%s/nothing" % pid])
        return "get", ("GET", sp + path, None)
    if c < 0.78:
        return "create process", ("POST", sp + "/processes", encode_body(r, mutate(r, {"comm": r.choice(["sh", "cat", 1, ""])})))
    if c < 0.82:
        body = {"path": r.choice(PATHS), "size": r.choice([PAGE, 1970000, 0, -1, "1"]), "mode": r.choice(["0644", "0755", "999", 420, None])}
        return "create file", ("POST", sp + "/files", encode_body(r, mutate(r, body)))
    if c < 0.87:
        body = {"kernel": r.choice(["6.3", "v3-patch", "6.4", "6.18", "6.18", "7.0", None, 6.4]),
                "options": r.choice([{}, {"eager_anon_vma": True}, {"skip_mergeable_for_file": True}, {"bogus": 1}, None, []]),
                "name": r.choice([None, "fuzz", "", 5, "\u00e9" * 10])}
        return "create session", ("POST", "/v1/sessions", encode_body(r, mutate(r, body)))
    if c < 0.89:
        return "delete session", ("DELETE", sp, None)
    if c < 0.93:
        path = r.choice(["/v1/kernels", "/v1/sessions", "/healthz", "/metrics", "/openapi.json", "/", "/index.html",
                         "/app.js", "/missing", "/v1", "/v1/", "/v1/compare", sp + "/replay"])
        method = r.choice(["GET", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
        return "misc", (method, path, encode_body(r, rnd_json_value(r)) if method in ("POST", "PUT", "PATCH") else None)
    if c < 0.96:
        body = {"format": r.choice(["strace", "perf", "maps", "x"]), "pid": 1, "faults": r.choice(["none", "touch"]),
                "text": r.choice(["mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n",
                                  "garbage(\n", "", "[pid 2] munmap(0x7f0000000000, 4096) = 0\n"])}
        return "replay", ("POST", sp + "/replay", encode_body(r, mutate(r, body)))
    if c < 0.98:
        body = {"kernels": r.choice([["6.3", "6.18"], ["6.4"], ["x"], [], "6.18"]),
                "ops": [rnd_op(r, [1]) for _ in range(r.randint(0, 8))]}
        return "compare", ("POST", "/v1/compare", encode_body(r, mutate(r, body)))
    # random JSON to a random route
    path = r.choice([sp + "/ops", pp + "/faults", pp + "/syscalls/mmap", sp + "/files", sp + "/processes", "/v1/sessions"])
    return "random json", ("POST", path, encode_body(r, rnd_json_value(r)))
