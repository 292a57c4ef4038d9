"""The fuzz run: raw and API worker threads, the pass/fail tally with the
answer statuses seen, and crash detection with each worker's last request.

Each worker works only on sessions it created itself, from its own seeded
random stream, so what it sends and what it gets back do not depend on how
the threads interleave: the same seed gives the same requests and counts,
and a failing case is rerun by running its worker alone up to that case
(the command is printed with the failure)."""

import json
import random
import threading
import time

from .client import KeepAlive, one_shot
from .limits import MAX_BODY
from .malformed import raw_case
from .responses import Failure, check_body
from .traffic import Pool, api_case
from .values import BASE, PAGE


class Runner:
    def __init__(self, args, port, proc):
        self.args = args
        self.port = port
        self.proc = proc
        self.lock = threading.Lock()
        self.passed = 0
        self.failed = 0
        self.shown = 0
        self.statuses = {}
        self.started = time.monotonic()
        self.stop = False
        self.last = {}          # worker name -> description of its last request (for crash reports)
        self.rerun_shown = set()
        self.crash_reported = False

    def record(self, ok, what, detail="", worker=None, index=None):
        with self.lock:
            if ok:
                self.passed += 1
            else:
                self.failed += 1
                if self.shown < self.args.show:
                    self.shown += 1
                    print("FAIL %s: %s" % (what, detail), flush=True)
                if worker and worker not in self.rerun_shown:
                    self.rerun_shown.add(worker)
                    print("  rerun: %s" % self.rerun_command(worker, index), flush=True)

    def rerun_command(self, worker, index):
        """The command that replays `worker`'s requests alone, up to and including request `index`."""
        cmd = "python3 scripts/fuzz_http.py --bin %s --seed %d --count %d --only %s" % (
            self.args.bin, self.args.seed, self.args.count, worker)
        return cmd + (" --stop-after %d" % (index + 1) if index is not None else "")

    def count_status(self, kind, st):
        with self.lock:
            key = "%s %d" % (kind, st)
            self.statuses[key] = self.statuses.get(key, 0) + 1

    def alive(self):
        return self.proc.poll() is None

    def crashed(self):
        """If the server died: report it once, with every worker's last request, and stop."""
        if self.alive():
            return False
        with self.lock:
            first = not self.crash_reported
            self.crash_reported = True
            self.stop = True
        if first:
            self.failed += 1
            print("FAIL server: exited with %s; last requests:" % self.proc.returncode, flush=True)
            for k, v in sorted(self.last.items()):
                print("  worker %s: %s" % (k, v), flush=True)
        return True

    def out_of_time(self):
        return time.monotonic() - self.started > self.args.time_limit

    def setup_sessions(self, conn, r, pool):
        """Keeps a handful of sessions with processes and a file to fuzz against in `pool`."""
        with pool.lock:
            have = len(pool.sessions)
        for _ in range(max(0, 4 - have)):
            st, _h, body = conn.request("POST", "/v1/sessions", json.dumps({"kernel": r.choice(["6.3", "v3-patch", "6.4", "6.18"])}).encode())
            if st != 201:
                continue
            sid = json.loads(body)["id"]
            setup = {"ops": [{"op": "file", "path": "/lib/libc.so.6", "size": 1970000}, {"op": "process"}, {"op": "process"},
                             {"op": "open", "pid": 1, "path": "/lib/libc.so.6"},
                             {"op": "mmap", "pid": 1, "addr": hex(BASE), "length": 64 * PAGE, "prot": "PROT_READ|PROT_WRITE",
                              "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"}]}
            conn.request("POST", "/v1/sessions/%s/ops" % sid, json.dumps(setup).encode())
            with pool.lock:
                pool.sessions.append(sid)

    def api_worker(self, name, seed, count):
        r = random.Random(seed)
        pool = Pool()
        conn = KeepAlive(self.port)
        for i in range(count):
            if self.stop or self.out_of_time():
                break
            if i % 200 == 0:
                try:
                    self.setup_sessions(conn, r, pool)
                except Exception as e:  # noqa: BLE001 — reported as a failure below
                    self.record(False, "setup", repr(e), name, i)
            what, (method, path, body) = api_case(r, conn, pool)
            self.last[name] = "%s %s %r" % (method, path, (body or b"")[:2000])
            try:
                st, headers, resp = conn.request(method, path, body)
                check_body(st, headers, resp, api=True)
                if st == 413 and len(body or b"") <= MAX_BODY:
                    raise Failure("413 for a body under the limit")
                if what == "create session" and st == 201:
                    sid = json.loads(resp)["id"]
                    with pool.lock:
                        pool.sessions.append(sid)
                    st2, h2, b2 = conn.request("POST", "/v1/sessions/%s/processes" % sid, b"{}")
                    check_body(st2, h2, b2, api=True)
                    self.count_status("api", st2)
                    self.record(True, "process for a new session")
                if method == "DELETE" and st == 204:
                    with pool.lock:
                        sid = path.split("/")[3]
                        if sid in pool.sessions:
                            pool.sessions.remove(sid)
                self.count_status("api", st)
                self.record(True, what)
            except Failure as e:
                conn.close()
                if self.crashed():
                    break
                self.record(False, "%s %s %s" % (what, method, path[:100]), "%s; body %r" % (e, (body or b"")[:200]), name, i)
            except (OSError, ValueError) as e:
                conn.close()
                if self.crashed():
                    break
                self.record(False, "%s %s %s" % (what, method, path[:100]), repr(e), name, i)
            if self.crashed():
                break
        conn.close()

    def raw_worker(self, name, seed, count):
        r = random.Random(seed)
        pool = Pool()
        try:
            conn = KeepAlive(self.port)
            self.setup_sessions(conn, r, pool)
            conn.close()
        except Exception as e:  # noqa: BLE001 — reported as a failure
            self.record(False, "setup", repr(e), name, 0)
        sid = pool.sessions[0] if pool.sessions else "none"
        for i in range(count):
            if self.stop or self.out_of_time():
                break
            what, payload, head, split = raw_case(r, self.port, sid)
            self.last[name] = "%s: %r" % (what, payload[:2000])
            try:
                for st in one_shot(self.port, payload, head=head, split=split):
                    self.count_status("raw", st)
                self.record(True, what)
            except Failure as e:
                if self.crashed():
                    break
                self.record(False, what, "%s; sent %r" % (e, payload[:160]), name, i)
            except OSError as e:
                if self.crashed():
                    break
                self.record(False, what, "%r; sent %r" % (e, payload[:160]), name, i)
            if self.crashed():
                break
