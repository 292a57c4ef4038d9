#!/usr/bin/env python3
"""The race scenarios of docs/CONCURRENCY.md over HTTP, against the real server.

    python3 scripts/races_e2e.py [BINARY] [--seed N] [--variants K] [--only S1,S4]

For every acceptance scenario (S1-S11, and RF: mbind against a fault) and
every kernel model it names, this
script creates a session, lays the scenario out with ordinary syscalls and
faults, calls POST /v1/sessions/{sid}/explore and checks which detectors fire
and which never do, the lock codes each thread's faults end with, the wait
edges and deadlock cycles. It then runs K variants of each scenario built from
the same rules (another window address, other thread names, the threads listed
in another order) and checks the same things: the rules, not the example.
Finally it checks that interleave replays an explore schedule, that explore
never changes the session, and the 4xx answers for bad programs.

Python standard library only. Prints one line per check and finally exactly
`races: N passed, M failed`; exits 1 if anything failed.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

P = 4096
RW = "PROT_READ|PROT_WRITE"
ANON = "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED"

# The only detector that fires on an admitted per-VMA anonymous fault in the
# models whose lookup tests vma->anon_vma before taking the VMA lock (latent R-E).
D1R_MODELS = {"v3-patch", "6.4", "6.4.1", "6.4.3", "6.4.8"}
ALL_DETECTORS = ["D1", "D2", "D3", "D3b", "D4", "D4s", "D5", "D6", "D7", "D8", "D9", "D10", "D11", "D12"]


def mmap(x, length, prot=RW, flags=ANON):
    return {"op": "mmap", "addr": hex(x), "length": length, "prot": prot, "flags": flags, "fd": -1, "offset": 0}


def fault(x, access="write"):
    return {"op": "fault", "address": hex(x), "access": access}


def munmap(x, length):
    return {"op": "munmap", "addr": hex(x), "length": length}


def mprotect(x, length, prot):
    return {"op": "mprotect", "addr": hex(x), "length": length, "prot": prot}


def mbind(x, length, mode):
    return {"op": "mbind", "addr": hex(x), "length": length, "mode": mode}


# Each scenario: setup(X) -> ops; threads(X, names) -> {name: ops}; expect: model -> dict with
#   fire: detectors some schedule must trigger; never: detectors no schedule may trigger;
#   codes_subset / codes_superset: {thread_index: set of lock codes}; edges: [(from_idx, to_idx)];
#   deadlock_cycle: set of thread indices; mutant / inject.
def scenarios():
    s = {}
    s["S1"] = dict(
        doc="prepare under the VMA lock only races munmap of the neighbour (R-A1)",
        setup=lambda X: [mmap(X + P, P), fault(X + P), mmap(X, P, "PROT_READ|PROT_WRITE|PROT_EXEC")],
        threads=lambda X: [[fault(X)], [munmap(X + P, P)]],
        expect={
            "v3-no-26": dict(fire={"D1", "D2", "D5", "D6"}),
            "v3-patch": dict(never={"D1", "D2", "D5", "D6"}, codes_superset={0: {"NO_ANON_VMA"}}),
            "6.4": dict(never={"D1", "D2", "D5", "D6"}, codes_superset={0: {"NO_ANON_VMA"}}),
            "6.4.9": dict(never=set(ALL_DETECTORS), codes_superset={0: {"NO_ANON_VMA"}}),
            "6.18": dict(never=set(ALL_DETECTORS), codes_subset={0: {"VMA_OK_TRYLOCK", "ANON_VMA_TRYLOCK_FAILED"}}),
            "6.3": dict(never=set(ALL_DETECTORS), codes_subset={0: {"LEGACY"}}),
        })
    s["S2"] = dict(
        doc="fork write-protects the parent's PTEs while a per-VMA fault replaces one (R-B1)",
        setup=lambda X: [mmap(X, P), fault(X)],
        threads=lambda X: [[{"op": "fork"}], [fault(X)]],
        expect={
            "v3-patch": dict(fire={"D8"}), "6.4": dict(fire={"D8"}), "6.4.1": dict(fire={"D8"}),
            "6.4.3": dict(never={"D8"}, codes_superset={1: {"VMA_WRITE_LOCKED"}}),
            "6.18": dict(never=set(ALL_DETECTORS), codes_superset={1: {"VMA_WRITE_LOCKED"}}),
            "6.3": dict(never=set(ALL_DETECTORS)),
        })
    s["S3"] = dict(
        doc="fork reads vma->anon_vma twice while a fault sets it (R-B2)",
        setup=lambda X: [mmap(X, P)],
        threads=lambda X: [[{"op": "fork"}], [fault(X)]],
        expect={
            "v3-no-26": dict(fire={"D9"}),
            "v3-patch": dict(never={"D9"}), "6.4": dict(never={"D9"}), "6.4.9": dict(never={"D9"}),
            "6.18": dict(never=set(ALL_DETECTORS)), "6.3": dict(never=set(ALL_DETECTORS)),
        })
    s["S4"] = dict(
        doc="stack expansion under the read lock frees a tree node a madvise walker holds (StackRot)",
        setup=lambda X: [mmap(X, 4 * P, RW, ANON + "|MAP_GROWSDOWN"),
                         mmap(X + 8 * P, 8 * P, RW, ANON + "|MAP_GROWSDOWN"), fault(X + 15 * P),
                         mmap(X + 32 * P, P)],
        threads=lambda X: [[fault(X + 4 * P)],
                           [{"op": "madvise", "addr": hex(X + 32 * P), "length": P, "advice": "MADV_DONTNEED"}]],
        expect={
            "6.3": dict(fire={"D4", "D4s"}), "v3-patch": dict(fire={"D4", "D4s"}), "6.4": dict(fire={"D4", "D4s"}),
            "6.4.1": dict(never={"D4", "D4s"}), "6.4.3": dict(never={"D4", "D4s"}),
            "6.18": dict(never=set(ALL_DETECTORS)),
        })
    s["S5"] = dict(
        doc="stack expansion rewrites the VMA a per-VMA fault holds (no vma_start_write)",
        setup=lambda X: [mmap(X + 8 * P, 8 * P, RW, ANON + "|MAP_GROWSDOWN"), fault(X + 15 * P)],
        threads=lambda X: [[fault(X + 7 * P)], [fault(X + 14 * P)]],
        expect={
            "v3-patch": dict(fire={"D3b", "D4"}), "6.4": dict(fire={"D3b", "D4"}), "6.4.1": dict(fire={"D3b"}),
            "6.4.3": dict(never={"D3", "D3b", "D4"}, edges=[(0, 1)]),
            "6.18": dict(never=set(ALL_DETECTORS), edges=[(0, 1)]),
        })
    s["S6"] = dict(
        doc="anon_vma tested before the VMA lock; mremap DONTUNMAP clears it (R-E)",
        setup=lambda X: [mmap(X, 2 * P, "PROT_READ|PROT_WRITE|PROT_EXEC"), fault(X), mmap(X + 2 * P, P),
                         fault(X + 2 * P)],
        threads=lambda X: [[fault(X + P)],
                           [{"op": "mremap", "old_address": hex(X), "old_size": 2 * P, "new_size": 2 * P,
                             "flags": "MREMAP_MAYMOVE|MREMAP_DONTUNMAP"}],
                           [munmap(X + 2 * P, P)]],
        expect={
            "v3-patch": dict(fire={"D1", "D2", "D5"}), "6.4": dict(fire={"D1", "D2", "D5"}),
            "6.4.8": dict(fire={"D1", "D2", "D5"}),
            "6.4.9": dict(never=set(ALL_DETECTORS)), "6.18": dict(never=set(ALL_DETECTORS)),
        })
    s["S7"] = dict(
        doc="dup_anon_vma() publishes an anon_vma on an unlocked VMA during a merge (R-D1)",
        setup=lambda X: [mmap(X + 2 * P, P), fault(X + 2 * P), mmap(X + P, P, "PROT_READ"), mmap(X, P)],
        threads=lambda X: [[mprotect(X + P, P, RW)], [fault(X)]],
        inject={"anon_vma_clone_enomem": True},
        expect={
            "6.4": dict(fire={"D3", "D7"}), "6.4.1": dict(fire={"D3", "D7"}), "6.4.3": dict(fire={"D3", "D7"}),
            "6.4.8": dict(never={"D3", "D7"}), "6.18": dict(never={"D3", "D7"}), "v3-patch": dict(never={"D3", "D7"}),
        })
    s["S8"] = dict(
        doc="munmap detaches the VMA a lookup found; the lookup must retry (negative control)",
        setup=lambda X: [mmap(X, 2 * P), fault(X + P)],
        threads=lambda X: [[fault(X, "read")], [munmap(X, 2 * P)]],
        expect={m: dict(never={"D10"}) for m in ["6.3", "v3-patch", "6.4", "6.4.9", "6.18"]},
        mutants={"no-detach-check": ("6.18", dict(fire={"D10"}))})
    s["S9"] = dict(
        doc="contention: faults and an mprotect split wait for each other, no hazard",
        setup=lambda X: [mmap(X, 4 * P), fault(X + 3 * P)],
        threads=lambda X: [[fault(X)], [mprotect(X + 2 * P, 2 * P, "PROT_READ")], [fault(X + P)]],
        expect={
            "6.4": dict(never=set(ALL_DETECTORS) - {"D1r"}, codes_superset={2: {"VMA_OK", "VMA_WRITE_LOCKED"}},
                        edges=[(1, 0), (2, 1)], no_deadlock=True),
            "6.18": dict(never=set(ALL_DETECTORS), codes_superset={2: {"VMA_OK", "VMA_WRITE_LOCKED"}},
                         edges=[(1, 0), (2, 1)], no_deadlock=True),
            "6.3": dict(never=set(ALL_DETECTORS), codes_subset={0: {"LEGACY"}, 2: {"LEGACY"}}, no_deadlock=True),
        })
    s["S10"] = dict(
        doc="a blocking mmap_read_lock under a VMA read lock deadlocks against mprotect (why 6.18 uses a trylock)",
        setup=lambda X: [mmap(X, P)],
        threads=lambda X: [[fault(X)], [mprotect(X, P, "PROT_READ")]],
        expect={"6.18": dict(never={"D12"}, no_deadlock=True)},
        mutants={"6.18-blocking-prepare": ("6.18", dict(fire={"D12"}, deadlock_cycle={0, 1}))})
    s["S11"] = dict(
        doc="two faults prepare the same VMA's anon_vma at once: one winner",
        setup=lambda X: [mmap(X, 2 * P)],
        threads=lambda X: [[fault(X)], [fault(X + P)]],
        expect={
            **{m: dict(never={"D6", "D7"}, one_anon_vma=True) for m in ["6.3", "v3-patch", "6.4", "6.4.9", "6.18"]},
            "v3-no-26": dict(fire={"D2"}, never={"D6", "D7"}, one_anon_vma=True),
        })
    s["RF"] = dict(
        doc="mbind replaces and frees the policy a per-VMA fault is allocating with (R-F, CVE-2023-4611)",
        setup=lambda X: [mmap(X, 2 * P), fault(X + P)],
        threads=lambda X: [[mbind(X, 2 * P, "MPOL_BIND"), fault(X)], [mbind(X, 2 * P, "MPOL_INTERLEAVE")]],
        expect={
            "6.4": dict(fire={"D11", "D3b"}), "6.4.1": dict(fire={"D11"}), "6.4.3": dict(fire={"D11"}),
            "6.4.8": dict(never=set(ALL_DETECTORS), edges=[(1, 0)]),
            "6.18": dict(never=set(ALL_DETECTORS), edges=[(1, 0)]),
            "6.3": dict(never=set(ALL_DETECTORS)),
        })
    return s


class Server:
    def __init__(self, binary):
        self.proc = subprocess.Popen([binary, "--port", "0", "--access_log", "false", "--data_dir", ""], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 60
        self.url = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(r"(http://[^ /]+)", line or "")
            if m:
                self.url = m.group(1)
                break
            if not line and self.proc.poll() is not None:
                break
        if not self.url:
            raise SystemExit("races: the server did not start")

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                raw = r.read()
                if not r.headers.get("Content-Type", "").startswith("application/json"):
                    return r.status, raw.decode(errors="replace")
                return r.status, json.loads(raw or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}: {detail}"[:900])


def session_with(server, kernel, setup):
    st, s = server.call("POST", "/v1/sessions", {"kernel": kernel})
    if st != 201:
        raise RuntimeError(f"create session {kernel}: {st} {s}")
    sid = s["id"]
    server.call("POST", f"/v1/sessions/{sid}/processes", {"comm": "race"})
    ops = [dict(op, pid=1) for op in setup]
    st, r = server.call("POST", f"/v1/sessions/{sid}/ops", {"ops": ops})
    if st != 200:
        raise RuntimeError(f"setup: {st} {r}")
    return sid


def explore(server, sid, threads, names, inject=None, mutant=None, bound=3):
    body = {"pid": 1, "threads": {n: t for n, t in zip(names, threads)}, "preemption_bound": bound,
            "max_schedules": 200000}
    if inject:
        body["inject"] = inject
    if mutant:
        body["mutant"] = mutant
    return server.call("POST", f"/v1/sessions/{sid}/explore", body)


def judge(c, label, res, exp, names):
    fired = {h["detector"] for h in res.get("hazards", [])}
    if res.get("deadlocks"):
        fired.add("D12")
    cut = set(res.get("bounded_by", [])) - {"preemption_bound"}
    c.check(f"{label}: search complete within the preemption bound (no schedule or time cap)", not cut,
            res.get("bounded_by"))
    for d in sorted(exp.get("fire", ())):
        c.check(f"{label}: {d} fires", d in fired, f"fired {sorted(fired)}")
    for d in sorted(exp.get("never", ())):
        c.check(f"{label}: {d} never fires", d not in fired, f"fired {sorted(fired)}")
    paths = res.get("fault_paths", {})
    for i, codes in exp.get("codes_superset", {}).items():
        got = set(paths.get(names[i], []))
        c.check(f"{label}: {names[i]} ends with {sorted(codes)} in some schedules", codes <= got, sorted(got))
    for i, codes in exp.get("codes_subset", {}).items():
        got = set(paths.get(names[i], []))
        c.check(f"{label}: {names[i]} ends only with {sorted(codes)}", got and got <= codes, sorted(got))
    edges = {(e["from"], e["to"]) for e in res.get("lock_wait_graph", [])}
    for a, b in exp.get("edges", ()):
        c.check(f"{label}: some schedule has {names[a]} waiting for {names[b]}", (names[a], names[b]) in edges,
                sorted(edges))
    if exp.get("no_deadlock"):
        c.check(f"{label}: no deadlock", not res.get("deadlocks"), res.get("deadlocks"))
    if "deadlock_cycle" in exp:
        want = {names[i] for i in exp["deadlock_cycle"]}
        cycles = [set(d.get("cycle", [])) for d in res.get("deadlocks", [])]
        c.check(f"{label}: deadlock cycle {sorted(want)}", any(want <= cy for cy in cycles), cycles)
    for h in res.get("hazards", []):
        if h["detector"] in exp.get("fire", ()):
            ok = all(k in h for k in ("name", "first_schedule", "step", "thread", "explanation", "fixed_by"))
            c.check(f"{label}: {h['detector']} hazard names its schedule, step, thread, fix", ok, h)
            break


def run_scenario(server, c, name, sc, X, names, order):
    for kernel, exp in sc["expect"].items():
        sid = session_with(server, kernel, sc["setup"](X))
        threads = sc["threads"](X)
        perm = [threads[i] for i in order]
        pnames = [names[i] for i in order]
        st, res = explore(server, sid, perm, pnames, sc.get("inject"))
        label = f"{name}@{hex(X)} {kernel} [{','.join(pnames)}]"
        if st != 200:
            c.check(f"{label}: explore answers 200", False, f"{st} {res}")
            continue
        judge(c, label, res, exp, names)
        if exp.get("one_anon_vma"):
            # Every end state: the VMAs covering the window share one anon_vma.
            outs = res.get("outcomes", [])
            def one(o):
                avs = {v.get("anon_vma") for v in o.get("vmas", []) if int(v["start"], 16) >= X
                       and int(v["end"], 16) <= X + 2 * P}
                return len(avs) == 1 and None not in avs
            c.check(f"{label}: every outcome ends with one anon_vma attached", bool(outs) and all(map(one, outs)),
                    [o.get("vmas") for o in outs[:3]])
        server.call("DELETE", f"/v1/sessions/{sid}")
    for mutant, (kernel, exp) in sc.get("mutants", {}).items():
        sid = session_with(server, kernel, sc["setup"](X))
        threads = sc["threads"](X)
        st, res = explore(server, sid, [threads[i] for i in order], [names[i] for i in order], sc.get("inject"),
                          mutant)
        label = f"{name}@{hex(X)} {kernel}+{mutant}"
        if st != 200:
            c.check(f"{label}: explore answers 200", False, f"{st} {res}")
            continue
        judge(c, label, res, exp, names)
        server.call("DELETE", f"/v1/sessions/{sid}")


def check_api(server, c):
    """interleave replays an explore schedule; explore changes nothing; 4xx answers."""
    X = 0x7f1234500000
    sc = scenarios()["S1"]
    sid = session_with(server, "v3-no-26", sc["setup"](X))
    _, before = server.call("GET", f"/v1/sessions/{sid}/processes/1/maps")
    _, log_before = server.call("GET", f"/v1/sessions/{sid}/log")
    st, res = explore(server, sid, sc["threads"](X), ["A", "B"])
    c.check("explore answers 200", st == 200, res)
    _, after = server.call("GET", f"/v1/sessions/{sid}/processes/1/maps")
    _, log_after = server.call("GET", f"/v1/sessions/{sid}/log")
    c.check("explore leaves the session's maps unchanged", before == after, (before, after))
    c.check("explore leaves the session's log unchanged", log_before == log_after)
    d5 = next((h for h in res.get("hazards", []) if h["detector"] == "D5"), None)
    c.check("S1 v3-no-26 has a D5 hazard to replay", d5 is not None, res.get("hazards"))
    if d5:
        body = {"pid": 1, "threads": {"A": sc["threads"](X)[0], "B": sc["threads"](X)[1]},
                "schedule": d5["first_schedule"]}
        st, il = server.call("POST", f"/v1/sessions/{sid}/interleave", body)
        c.check("interleave answers 200", st == 200, il)
        if st == 200:
            steps = il.get("steps", [])
            hit = [s for s in steps if any(d.get("detector") == "D5" for d in s.get("detectors", []))]
            c.check("interleave fires D5 at the step explore named", bool(hit) and hit[0]["index"] == d5["step"],
                    (d5["step"], [s["index"] for s in hit]))
            c.check("every step names its kernel function and the locks held",
                    all(s.get("fn") and "locks" in s and "vmas" in s for s in steps), steps[:1])
    for body, field in [
        ({"pid": 1, "threads": {}}, "threads"),
        ({"pid": 1, "threads": {"A": []}}, "A"),
        ({"pid": 1, "threads": {"A": [{"op": "frobnicate"}]}}, "frobnicate"),
        ({"pid": 1, "threads": {"A": [fault(X)]}, "bogus": 1}, "bogus"),
        ({"pid": 1, "threads": {"A": [mbind(X, P, "MPOL_FOO")]}}, "mode"),
        ({"pid": 1, "threads": {"A": [{"op": "mbind", "addr": hex(X), "mode": "MPOL_BIND"}]}}, "length"),
    ]:
        st, r = server.call("POST", f"/v1/sessions/{sid}/explore", body)
        c.check(f"explore rejects {json.dumps(body)[:60]} with 400 naming '{field}'",
                st == 400 and field in json.dumps(r), f"{st} {r}")
    st, r = server.call("POST", f"/v1/sessions/{sid}/interleave",
                        {"pid": 1, "threads": {"A": [fault(X)]}, "schedule": ["A", "Z"]})
    c.check("interleave rejects an unknown thread in the schedule (400 naming it)",
            st == 400 and "Z" in json.dumps(r), f"{st} {r}")
    # A thread parked on a lock cannot be scheduled: 422 schedule_rejected naming the lock.
    two = {"pid": 1, "threads": {"A": [mprotect(X, P, "PROT_READ")], "B": [mprotect(X, P, "PROT_READ|PROT_WRITE")]}}
    st, r = server.call("POST", f"/v1/sessions/{sid}/interleave", dict(two, schedule=["A", "B", "B"]))
    c.check("interleave rejects running a blocked thread (422 schedule_rejected naming mmap_lock)",
            st == 422 and r.get("error", {}).get("code") == "schedule_rejected" and "mmap_lock" in json.dumps(r),
            f"{st} {r}")
    # A racy schedule cannot be committed: its end state is not a serial one.
    if d5:
        body = {"pid": 1, "threads": {"A": sc["threads"](X)[0], "B": sc["threads"](X)[1]},
                "schedule": d5["first_schedule"], "commit": True}
        st, r = server.call("POST", f"/v1/sessions/{sid}/interleave", body)
        c.check("committing a schedule that ends incomplete or corrupted is refused (409)", st == 409, f"{st} {r}")
    _, log_end = server.call("GET", f"/v1/sessions/{sid}/log")
    c.check("no error changed the session", log_end == log_before)

    # A race-free schedule commits: its ops are applied in the order they took effect and logged.
    sc11 = scenarios()["S11"]
    sid2 = session_with(server, "6.18", sc11["setup"](X))
    _, log0 = server.call("GET", f"/v1/sessions/{sid2}/log")
    body = {"pid": 1, "threads": {"A": sc11["threads"](X)[0], "B": sc11["threads"](X)[1]}}
    st, ex = server.call("POST", f"/v1/sessions/{sid2}/explore", body)
    sched = ex["outcomes"][0]["first_schedule"] if st == 200 and ex.get("outcomes") else []
    st, r = server.call("POST", f"/v1/sessions/{sid2}/interleave", dict(body, schedule=sched, commit=True))
    c.check("interleave commits a finished race-free schedule", st == 200 and r.get("committed") is True, f"{st} {r}")
    _, log1 = server.call("GET", f"/v1/sessions/{sid2}/log")
    c.check("the committed ops are in the log, in linearization order",
            st == 200 and [o["op"] for o in log1["ops"][len(log0["ops"]):]] == ["fault", "fault"], log1)
    _, vmas = server.call("GET", f"/v1/sessions/{sid2}/processes/1/vmas")
    c.check("the committed end state is the session's (one anon_vma on V)",
            [v.get("anon_vma") is not None for v in vmas.get("vmas", [])] == [True], vmas)

    # mbind exists only in the step engine: a finished schedule with it is not committed.
    body = {"pid": 1, "threads": {"A": [mbind(X, 2 * P, "MPOL_BIND")], "B": [fault(X)]}}
    st, ex = server.call("POST", f"/v1/sessions/{sid2}/explore", body)
    c.check("explore accepts mbind", st == 200 and bool(ex.get("outcomes")), f"{st} {ex}")
    sched = ex["outcomes"][0]["first_schedule"] if st == 200 and ex.get("outcomes") else []
    st, r = server.call("POST", f"/v1/sessions/{sid2}/interleave", dict(body, schedule=sched, commit=True))
    c.check("a schedule with mbind is not committed (409 naming mbind)", st == 409 and "mbind" in json.dumps(r),
            f"{st} {r}")
    _, log2 = server.call("GET", f"/v1/sessions/{sid2}/log")
    c.check("the refused commit changed nothing", log2 == log1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?", default=os.environ.get("MMSIM_BIN", ".build/debug/mmsim"))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("RACES_SEED", "1")))
    ap.add_argument("--variants", type=int, default=3)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    print(f"races: seed {a.seed} (rerun: python3 scripts/races_e2e.py {a.binary} --seed {a.seed})")
    server = Server(a.binary)
    c = Checker()
    try:
        only = set(filter(None, a.only.split(",")))
        for name, sc in scenarios().items():
            if only and name not in only:
                continue
            n = len(sc["threads"](0))
            base = [f"T{i + 1}" for i in range(n)]
            run_scenario(server, c, name, sc, 0x7f0000000000, base, list(range(n)))
            for _ in range(a.variants):
                X = 0x7e0000000000 + rng.randrange(1, 1 << 20) * (1 << 20)
                names = rng.sample(["worker", "gc", "io", "main", "alloc", "unmapper", "forker"], n)
                order = list(range(n))
                rng.shuffle(order)
                run_scenario(server, c, name, sc, X, names, order)
        if not only:
            check_api(server, c)
    finally:
        server.stop()
    print(f"races: {c.passed} passed, {c.failed} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
