#!/usr/bin/env python3
"""Record a real program on this machine as a trace mmsim can replay.

    sudo python3 scripts/capture.py --out traces/NAME -- PROGRAM ARGS...

Python 3 standard library only.  See scripts/CAPTURE.md for the output
format and for what a capture cannot see.

How it works (three processes):

  outer   (this script, as invoked) checks the environment, then runs
            perf record -k CLOCK_MONOTONIC -e ... -- python3 capture.py --inner ...
          so that perf's inherited events cover the tracer and, through
          inheritance, every process the program creates.
  inner   (this script with --inner, perf's workload) forks the program
          with ASLR off and PTRACE_TRACEME, follows forks/vforks/clones/execs
          with ptrace, and writes /proc/PID/maps (and smaps) at every exec
          stop, every new child's first stop and every process's exit stop.
  outer   afterwards converts perf.data with `perf script` into perf.txt
          (only the events of the traced tree; the tracer's own events and
          the root child's pre-exec events are dropped), correlates page
          faults with mmap_lock events (faults.tsv), writes meta.json and,
          unless --no-strace, records a second run of the same command under
          `setarch -R strace -f` for file names (strace.txt).
"""

import argparse
import bisect
import collections
import ctypes
import ctypes.util
import datetime
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

FORMAT = "mmsim-capture/1"

# ---------------------------------------------------------------------------
# ptrace / personality constants (x86-64 Linux)

PTRACE_TRACEME = 0
PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202

PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACEEXIT = 0x40
PTRACE_O_EXITKILL = 0x100000

PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_VFORK_DONE = 5
PTRACE_EVENT_EXIT = 6

ADDR_NO_RANDOMIZE = 0x0040000
WALL = 0x40000000  # __WALL: wait for threads and non-SIGCHLD children too

EVENT_NAMES = {PTRACE_EVENT_FORK: "fork", PTRACE_EVENT_VFORK: "vfork", PTRACE_EVENT_CLONE: "clone"}

# ---------------------------------------------------------------------------
# Events recorded by perf.  Missing tracepoints are skipped (and listed in
# meta.json) so the script also works on kernels without, e.g., sys_enter_fork.

USER_ADDRESS_FILTER = "address < 0x800000000000"
SYSCALLS = ["mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "openat", "open", "close",
            "clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group"]
OTHER_EVENTS = ["sched:sched_process_fork", "sched:sched_process_exec", "sched:sched_process_exit",
                "task:task_newtask",
                "mmap_lock:mmap_lock_start_locking", "mmap_lock:mmap_lock_acquire_returned",
                "mmap_lock:mmap_lock_released"]
CALLCHAIN_EVENT = "mmap_lock:mmap_lock_acquire_returned"
# Helper event: one sample per major fault (counted when the fault completes;
# a fault retried after VM_FAULT_MAJOR counts as major).  It is used for the
# "major" column of faults.tsv and is not written to perf.txt.
MAJOR_EVENT = "major-faults"
TRACEFS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

PERF_LINE = re.compile(
    r"^\s*(?P<comm>.*?)\s+(?P<pid>\d+)/(?P<tid>\d+)\s+\[(?P<cpu>\d+)\]\s+(?P<time>\d+\.\d+):"
    r"\s+(?P<event>[A-Za-z0-9_]+:[A-Za-z0-9_]+|major-faults):\s?(?P<trace>.*)$")
CHAIN_HEAD = re.compile(
    r"^\s*(?P<tid>\d+)\s+(?P<time>\d+\.\d+):\s+(?P<event>[A-Za-z0-9_]+:[A-Za-z0-9_]+|major-faults):")


def die(msg):
    sys.stderr.write("capture.py: " + msg + "\n")
    sys.exit(2)


# ===========================================================================
# inner: the ptrace tracer (runs as perf's workload)

class Tracer:
    def __init__(self, args):
        self.args = args
        self.out = args.out
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        self.libc.ptrace.restype = ctypes.c_long
        self.libc.personality.argtypes = [ctypes.c_ulong]
        self.libc.personality.restype = ctypes.c_int
        self.known = set()          # tids seen stopped at least once
        self.announced = {}         # tid -> record, announced by a parent's fork/clone event
        self.exec_count = collections.Counter()
        self.exit_snap = {}         # tgid -> the exit record holding its exit snapshot
        self.state = {"tracer_pid": os.getpid(), "root_pid": None, "root_status": None,
                      "execs": [], "exits": [], "tasks": [], "signals": [], "errors": []}

    # -- helpers ------------------------------------------------------------
    def ptrace(self, req, pid, addr=0, data=0):
        r = self.libc.ptrace(req, pid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
        if r == -1:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return r

    def geteventmsg(self, pid):
        v = ctypes.c_ulong(0)
        self.ptrace(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(v))
        return v.value

    def cont(self, pid, sig=0):
        try:
            self.ptrace(PTRACE_CONT, pid, 0, sig)
        except OSError as e:
            if e.errno != errno.ESRCH:  # killed meanwhile (e.g. SIGKILL of the group)
                raise

    @staticmethod
    def now():
        return time.clock_gettime_ns(time.CLOCK_MONOTONIC)

    @staticmethod
    def tgid_of(tid):
        try:
            with open("/proc/%d/status" % tid) as f:
                for line in f:
                    if line.startswith("Tgid:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return tid

    @staticmethod
    def threads_of(tgid):
        try:
            with open("/proc/%d/status" % tgid) as f:
                for line in f:
                    if line.startswith("Threads:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def snapshot(self, pid, tag, name=None):
        """Copies /proc/PID/maps and smaps to maps/NAME-TAG.txt and
        smaps/NAME-TAG.txt (NAME defaults to PID); returns the paths written."""
        files = {}
        for kind, sub in (("maps", "maps"), ("smaps", "smaps")):
            rel = "%s/%d-%s.txt" % (sub, pid if name is None else name, tag)
            try:
                with open("/proc/%d/%s" % (pid, kind), "rb") as f:
                    data = f.read()
            except OSError as e:
                self.state["errors"].append("read /proc/%d/%s at %s: %s" % (pid, kind, tag, e))
                continue
            os.makedirs(os.path.join(self.out, sub), exist_ok=True)
            with open(os.path.join(self.out, rel), "wb") as f:
                f.write(data)
            files[kind] = rel
        return files

    # -- the program --------------------------------------------------------
    def spawn(self, argv):
        # The program gets the outer script's environment and PATH lookup, not
        # the one perf record gives its workload (perf prepends its exec
        # directory to PATH and adds PERF_BUILDID_DIR, PREFIX, ...).
        with open(self.args.env) as f:
            saved = json.load(f)
        env, path = saved["env"], saved["path"]
        stdin = os.open(self.args.stdin, os.O_RDONLY)
        stdout = os.open(self.args.stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) \
            if self.args.stdout else None
        stderr = os.open(self.args.stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) \
            if self.args.stderr else None
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(stdin, 0)
                if stdout is not None:
                    os.dup2(stdout, 1)
                if stderr is not None:
                    os.dup2(stderr, 2)
                cur = self.libc.personality(0xffffffff)
                if self.libc.personality((cur & 0xffffffff) | ADDR_NO_RANDOMIZE) == -1:
                    os._exit(126)
                if self.libc.ptrace(PTRACE_TRACEME, 0, None, None) == -1:
                    os._exit(126)
                os.kill(os.getpid(), signal.SIGSTOP)  # lets the tracer set options before exec
                os.execve(path, argv, env)
            except BaseException:
                pass
            os._exit(127)
        for fd in (stdin, stdout, stderr):
            if fd is not None:
                os.close(fd)
        return pid, path

    def run(self, argv):
        root, path = self.spawn(argv)
        self.state["root_pid"] = root
        self.state["root_path"] = path
        _, status = os.waitpid(root, WALL)
        if not os.WIFSTOPPED(status):
            self.state["errors"].append("child did not stop before exec (status %#x)" % status)
            return self.finish()
        opts = (PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)
        self.ptrace(PTRACE_SETOPTIONS, root, 0, opts)
        self.known.add(root)
        self.state["tasks"].append({"tid": root, "tgid": root, "parent": os.getpid(), "kind": "root",
                                    "monotonic_ns": self.now()})
        self.cont(root)
        live = {root}
        while live:
            try:
                pid, status = os.waitpid(-1, WALL)
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                live.discard(pid)
                self.known.discard(pid)
                if pid == root:
                    self.state["root_status"] = (os.WEXITSTATUS(status) if os.WIFEXITED(status)
                                                 else -os.WTERMSIG(status))
                continue
            if not os.WIFSTOPPED(status):
                continue
            live.add(pid)
            sig = os.WSTOPSIG(status)
            event = (status >> 16) & 0xff
            if pid not in self.known:
                # First stop of an auto-attached child (SIGSTOP); may come
                # before or after the parent's fork/clone event stop.
                self.known.add(pid)
                if sig == signal.SIGSTOP:
                    self.new_child(pid)
                    self.cont(pid)
                    continue
            if sig == signal.SIGTRAP and event:
                self.on_event(pid, event, live)
                self.cont(pid)
                continue
            # Signal-delivery stop or group-stop: pass the signal through.
            siginfo = ctypes.create_string_buffer(128)
            try:
                self.ptrace(PTRACE_GETSIGINFO, pid, 0, ctypes.addressof(siginfo))
            except OSError as e:
                if e.errno == errno.EINVAL:  # group-stop (not a signal delivery)
                    self.cont(pid)
                    continue
                if e.errno == errno.ESRCH:
                    continue
                raise
            self.state["signals"].append({"tid": pid, "signal": sig, "monotonic_ns": self.now()})
            self.cont(pid, sig)
        return self.finish()

    def new_child(self, tid):
        rec = self.announced.pop(tid, None)
        if rec is None:  # the child's stop came first; the parent's event fills in the rest
            rec = {"tid": tid, "tgid": self.tgid_of(tid), "parent": None, "kind": None}
            self.announced[tid] = rec
            self.state["tasks"].append(rec)
        rec["first_stop_monotonic_ns"] = self.now()
        if rec["tgid"] == tid:  # a new process: its layout right after fork (copy of the parent)
            rec["fork_snapshot"] = self.snapshot(tid, "fork")

    def on_event(self, pid, event, live):
        t = self.now()
        if event in EVENT_NAMES:
            child = self.geteventmsg(pid)
            rec = self.announced.pop(child, None)
            if rec is None:  # the parent's event came first; the child's stop will follow
                rec = {"tid": child}
                self.announced[child] = rec
                self.state["tasks"].append(rec)
            rec.update({"parent": pid, "parent_tgid": self.tgid_of(pid), "kind": EVENT_NAMES[event],
                        "event_monotonic_ns": t})
            rec["tgid"] = self.tgid_of(child)
            if event == PTRACE_EVENT_CLONE and rec["tgid"] != child:
                rec["kind"] = "thread"
            live.add(child)
        elif event == PTRACE_EVENT_EXEC:
            former = self.geteventmsg(pid)
            if former != pid:  # a non-leader thread exec'd; it now has the leader's pid
                live.discard(former)
                self.known.discard(former)
            n = self.exec_count[pid]
            self.exec_count[pid] += 1
            try:
                exe = os.readlink("/proc/%d/exe" % pid)
            except OSError:
                exe = None
            rec = {"pid": pid, "n": n, "former_tid": former, "exe": exe, "monotonic_ns": t}
            rec.update(self.snapshot(pid, str(n)))
            self.state["execs"].append(rec)
        elif event == PTRACE_EVENT_EXIT:
            # The mm outlives every thread but the last, and a thread killed by
            # another thread's exit_group (SIGKILL) gets no exit stop, so every
            # exit stop of the group rewrites maps/TGID-exit.txt: the file
            # holds the layout at the group's last exit stop.
            status = self.geteventmsg(pid)
            tgid = self.tgid_of(pid)
            rec = {"tid": pid, "tgid": tgid, "wait_status": status, "monotonic_ns": t,
                   "threads_left": self.threads_of(tgid)}
            if tgid == self.state["root_pid"] and not self.exec_count[tgid]:
                self.state["exits"].append(rec)  # still the tracer's copy: execve failed
                return
            prev = self.exit_snap.get(tgid)
            if prev is not None:
                prev.pop("maps", None)
                prev.pop("smaps", None)
            rec.update(self.snapshot(pid, "exit", name=tgid))
            self.exit_snap[tgid] = rec
            self.state["exits"].append(rec)

    def finish(self):
        if not self.exec_count[self.state["root_pid"]]:
            self.state["errors"].append("the program was never executed (execve failed; exit status %s)"
                                        % self.state["root_status"])
        with open(self.args.state, "w") as f:
            json.dump(self.state, f, indent=1)
        rs = self.state["root_status"]
        return 0 if rs is None else (rs if rs >= 0 else 128 - rs)


def inner_main(args):
    return Tracer(args).run(args.command)


# ===========================================================================
# outer: environment checks, perf record, conversion, meta.json

def tracefs():
    for d in TRACEFS:
        if os.path.isdir(os.path.join(d, "events")):
            return d
    return None


def event_exists(tfs, name):
    sub, ev = name.split(":", 1)
    return os.path.isdir(os.path.join(tfs, "events", sub, ev))


def perf_events(tfs):
    """The -e arguments, and the list of events actually recorded / missing."""
    args, used, missing = [], [], []

    def add(name, extra=()):
        if event_exists(tfs, name):
            spec = name + ("/call-graph=fp,max-stack=16/" if name == CALLCHAIN_EVENT else "")
            args.extend(["-e", spec, *extra])
            used.append(name)
        else:
            missing.append(name)

    add("exceptions:page_fault_user")
    args.extend(["-e", "%s/period=1,name=%s/" % (MAJOR_EVENT, MAJOR_EVENT)])
    add("exceptions:page_fault_kernel", ["--filter", USER_ADDRESS_FILTER])
    for s in SYSCALLS:
        add("syscalls:sys_enter_" + s)
        add("syscalls:sys_exit_" + s)
    for e in OTHER_EVENTS:
        add(e)
    return args, used, missing


def run_perf_script(perf, data, fields, extra=()):
    cmd = [perf, "script", "-i", data, "--ns", "-F", fields, *extra]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        die("perf script failed: %s\n%s" % (" ".join(cmd), r.stderr.decode(errors="replace")))
    return r.stdout.decode("utf-8", errors="surrogateescape").splitlines()


def parse_chains(lines):
    """Callchain records (perf script -F tid,time,event,ip,sym): one entry
    per event, in perf script order: (tid, time, event, [frame symbols])."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        if line.startswith("\t"):
            if out:
                parts = line.split(None, 1)
                out[-1][3].append(parts[1].strip() if len(parts) > 1 else parts[0])
            continue
        m = CHAIN_HEAD.match(line)
        if m:
            out.append((int(m.group("tid")), m.group("time"), m.group("event"), []))
        else:  # keeps the ordinals aligned; the check in convert() then fails
            out.append((None, None, None, []))
    return out


def lock_caller(frames):
    """The kernel function that took mmap_lock, from an acquire's callchain."""
    for f in frames:
        name = f.split("+")[0]
        if name.startswith("__mmap_lock_do_trace") or name.startswith("__traceiter") or \
                name.startswith("perf_") or name == "[unknown]":
            continue
        return name
    return None


def in_fault(frames):
    return any(f.startswith("exc_page_fault") or f.startswith("asm_exc_page_fault") for f in frames)


def kv(trace):
    d = {}
    for part in trace.split():
        if "=" in part:
            k, v = part.split("=", 1)
            d[k] = v
    return d


def load_maps(path):
    rows = []
    try:
        with open(path) as f:
            for line in f:
                p = line.split(None, 5)
                if len(p) < 5:
                    continue
                a, b = p[0].split("-")
                rows.append((int(a, 16), int(b, 16), p[1], p[5].strip() if len(p) > 5 else ""))
    except OSError:
        pass
    return rows


def mapping_of(rows, addr):
    for a, b, perms, name in rows:
        if a <= addr < b:
            return (name or "[anon]"), perms
    return None, None


def convert(out, state, perf):
    data = os.path.join(out, "perf.data")
    lines = run_perf_script(perf, data, "comm,pid,tid,cpu,time,event,trace")
    chain_lines = run_perf_script(perf, data, "tid,time,event,ip,sym")
    chains = parse_chains(chain_lines)

    parsed = []
    unparsed = 0
    for line in lines:
        m = PERF_LINE.match(line)
        if not m:
            unparsed += 1
            parsed.append(None)
            continue
        parsed.append(m)
    chain_ok = len(chains) == len(parsed) and all(
        p is None or (int(p.group("tid")) == c[0] and p.group("time") == c[1] and p.group("event") == c[2])
        for p, c in zip(parsed, chains))

    root = state["root_pid"]
    tree = {root}
    for t in state["tasks"]:
        tree.add(t["tid"])
        if t.get("tgid"):
            tree.add(t["tgid"])
    # The root child runs the tracer's (Python) image until its exec: drop
    # its events before the sys_enter_execve that precedes its first exec.
    first_exec = next((i for i, p in enumerate(parsed) if p and int(p.group("pid")) == root
                       and p.group("event") == "sched:sched_process_exec"), None)
    root_start = first_exec if first_exec is not None else len(parsed)
    if first_exec is not None:
        for i in range(first_exec - 1, -1, -1):
            p = parsed[i]
            if p and int(p.group("tid")) == root and p.group("event") in (
                    "syscalls:sys_enter_execve", "syscalls:sys_enter_execveat"):
                root_start = i
                break

    kept = []  # (index into parsed, perf.txt line number)
    dropped_tracer = dropped_pre_exec = 0
    for i, p in enumerate(parsed):
        if p is None:
            continue
        pid = int(p.group("pid"))
        if pid not in tree:
            dropped_tracer += 1
            continue
        if pid == root and i < root_start:
            dropped_pre_exec += 1
            continue
        kept.append(i)
    with open(os.path.join(out, "perf.txt"), "w", encoding="utf-8", errors="surrogateescape") as f:
        for i in kept:
            if parsed[i].group("event") != MAJOR_EVENT:
                f.write(lines[i] + "\n")
    helper = [i for i in kept if parsed[i].group("event") == MAJOR_EVENT]
    kept = [i for i in kept if parsed[i].group("event") != MAJOR_EVENT]
    line_of = {i: n + 1 for n, i in enumerate(kept)}

    # -- correlate snapshots with perf events --------------------------------
    exec_lines = collections.defaultdict(list)   # pid -> [(index of sched_process_exec, of sys_enter_execve)]
    exit_lines = {}
    fork_lines = {}
    first_line = {}
    last_execve = {}
    for i in kept:
        p = parsed[i]
        ev = p.group("event")
        tid, pid = int(p.group("tid")), int(p.group("pid"))
        first_line.setdefault(pid, i)
        if ev in ("syscalls:sys_enter_execve", "syscalls:sys_enter_execveat"):
            last_execve[tid] = i
        elif ev == "sched:sched_process_exec":
            exec_lines[pid].append((i, last_execve.pop(tid, None)))
        elif ev == "sched:sched_process_exit":
            exit_lines[tid] = i
        elif ev == "sched:sched_process_fork":
            m = re.search(r"child_pid=(\d+)", p.group("trace"))
            if m:
                fork_lines.setdefault(int(m.group(1)), i)
    for rec in state["execs"]:
        lst = exec_lines.get(rec["pid"], [])
        if rec["n"] < len(lst):
            i, e = lst[rec["n"]]
            rec["perf_line"] = line_of[i]
            rec["perf_time"] = parsed[i].group("time")
            if e is not None:
                rec["execve_line"] = line_of[e]
    for rec in state["exits"]:
        i = exit_lines.get(rec["tid"])
        if i is not None:
            rec["perf_line"] = line_of[i]
            rec["perf_time"] = parsed[i].group("time")
    for rec in state["tasks"]:
        i = fork_lines.get(rec["tid"])
        if i is not None:
            rec["perf_line"] = line_of[i]
            rec["perf_time"] = parsed[i].group("time")

    # The snapshot of a stopped task lies between its perf events: every event
    # of that tid before the stop has a smaller CLOCK_MONOTONIC time than the
    # snapshot's monotonic_ns, every later one a larger time.  next_line is
    # the first perf.txt line of the tid after the snapshot (absent if none).
    per_tid = collections.defaultdict(list)
    for i in kept:
        p = parsed[i]
        sec, _, frac = p.group("time").partition(".")
        per_tid[int(p.group("tid"))].append((int(sec) * 10**9 + int((frac + "000000000")[:9]), line_of[i]))

    def next_line(tid, ns):
        lst = per_tid.get(tid, [])
        k = bisect.bisect_right(lst, (ns, float("inf")))
        return lst[k][1] if k < len(lst) else None

    for rec in state["execs"]:
        rec["next_line"] = next_line(rec["pid"], rec["monotonic_ns"])
    for rec in state["exits"]:
        rec["next_line"] = next_line(rec["tid"], rec["monotonic_ns"])
    for rec in state["tasks"]:
        if "first_stop_monotonic_ns" in rec:
            rec["next_line"] = next_line(rec["tid"], rec["first_stop_monotonic_ns"])

    # Image segments per process, for the mapping_hint column of faults.tsv:
    # a segment starts at a fork snapshot (the process's first event) or at
    # an exec (its sys_enter_execve, since faults inside execve already hit
    # the new mm); the exit snapshot closes the last segment.
    segments = collections.defaultdict(list)  # pid -> [start_line, kind, rows, end_rows]
    for rec in state["tasks"]:
        snap = rec.get("fork_snapshot", {})
        if "maps" in snap and rec["tid"] in first_line:
            segments[rec["tid"]].append([line_of[first_line[rec["tid"]]], "fork",
                                         load_maps(os.path.join(out, snap["maps"])), None])
    for rec in state["execs"]:
        if "maps" in rec and "perf_line" in rec:
            segments[rec["pid"]].append([rec.get("execve_line", rec["perf_line"]), "exec",
                                         load_maps(os.path.join(out, rec["maps"])), None])
    for segs in segments.values():
        segs.sort(key=lambda x: x[0])
    for rec in state["exits"]:
        if "maps" in rec:
            rows = load_maps(os.path.join(out, rec["maps"]))
            if segments.get(rec["tgid"]):
                segments[rec["tgid"]][-1][3] = rows
            else:
                segments[rec["tgid"]].append([0, "exit", rows, None])

    def hint(pid, line, addr):
        """The mapping containing addr: from the snapshot that starts the
        process image the fault belongs to, else from that image's exit
        snapshot (a heuristic: mappings change between snapshots)."""
        segs = [g for g in segments.get(pid, []) if g[0] <= line] or segments.get(pid, [])[:1]
        if not segs:
            return "?", "?", "-"
        g = segs[-1]
        name, perms = mapping_of(g[2], addr)
        if name:
            return name, perms, g[1]
        if g[3] is not None:
            name, perms = mapping_of(g[3], addr)
            if name:
                return name, perms, "exit"
        return "?", "?", "-"

    faults = []
    open_fault = {}
    for i in sorted(kept + helper):
        p = parsed[i]
        tid = int(p.group("tid"))
        ev = p.group("event")
        if ev == MAJOR_EVENT:
            if tid in open_fault:
                open_fault[tid]["major"] = True
            continue
        if ev in ("exceptions:page_fault_user", "exceptions:page_fault_kernel"):
            d = kv(p.group("trace"))
            try:
                addr = int(d.get("address", "x"), 16)
                code = int(d.get("error_code", "x"), 16)
            except ValueError:
                open_fault.pop(tid, None)
                continue
            f = {"i": i, "tid": tid, "pid": int(p.group("pid")), "time": p.group("time"),
                 "user": ev.endswith("_user"), "addr": addr, "code": code, "acquires": [],
                 "major": False}
            faults.append(f)
            open_fault[tid] = f
        elif ev.startswith("mmap_lock:"):
            f = open_fault.get(tid)
            if f is not None and ev == "mmap_lock:mmap_lock_acquire_returned":
                d = kv(p.group("trace"))
                frames = chains[i][3] if chain_ok else []
                f["acquires"].append({"write": d.get("write") == "true",
                                      "success": d.get("success") == "true",
                                      "caller": lock_caller(frames) if frames else None,
                                      "in_fault": in_fault(frames) if frames else None})
        else:  # any syscall, sched or task event of this tid ends the window
            open_fault.pop(tid, None)

    def classify(f):
        acq = [a for a in f["acquires"] if a["in_fault"] is not False]
        if not acq:
            return "vma" if f["user"] else "none"
        ok = [a for a in acq if a["success"]]
        callers = {a["caller"] for a in acq}
        parts = []
        if any(a["caller"] == "__vmf_anon_prepare" for a in ok):
            parts.append("trylock")
        if any(a["caller"] == "__vmf_anon_prepare" and not a["success"] for a in acq):
            parts.append("trylock_failed")
        if any(a["caller"] == "lock_mm_and_find_vma" and not a["write"] for a in ok):
            parts.append("mmap")
        if any(a["write"] for a in ok):
            parts.append("mmap_write")
        others = callers - {"__vmf_anon_prepare", "lock_mm_and_find_vma"}
        if None in others:
            parts.append("acquired")  # no callchain: caller unknown
        others.discard(None)
        if others:
            parts.append("other:" + ",".join(sorted(others)))
        return "+".join(parts) if parts else "mmap"

    tsv = ["# line\ttid\ttime\tmode\taddress\terror_code\taccess\tlock\tmajor\tmapping_hint\tperms\thint_from"]
    majors = {"user": 0, "kernel": 0}
    summary = {"user": collections.Counter(), "kernel": collections.Counter()}
    by_mapping = collections.defaultdict(collections.Counter)
    took = {"user": 0, "kernel": 0}
    took_read = {"user": 0, "kernel": 0}
    window_read = {"user": 0, "kernel": 0}
    for f in faults:
        mode = "user" if f["user"] else "kernel"
        cls = classify(f)
        f["lock"] = cls
        summary[mode][cls] += 1
        acq_ok = [a for a in f["acquires"] if a["success"] and a["in_fault"] is not False]
        if acq_ok:
            took[mode] += 1
        if any(not a["write"] for a in acq_ok):
            took_read[mode] += 1
        if any(a["success"] and not a["write"] for a in f["acquires"]):
            window_read[mode] += 1
        access = "exec" if f["code"] & 0x10 else ("write" if f["code"] & 2 else "read")
        if f["code"] & 1:
            access += "(present)"
        ln = line_of[f["i"]]
        name, perms, src = hint(f["pid"], ln, f["addr"])
        if cls not in ("vma", "none"):
            by_mapping["%s %s %s" % (mode, access, cls)][name if name.startswith("[") or name == "?" or
                                                         name == "[anon]" else "file"] += 1
        majors[mode] += f["major"]
        tsv.append("%d\t%d\t%s\t%s\t%#x\t%#x\t%s\t%s\t%s\t%s\t%s\t%s" % (
            ln, f["tid"], f["time"], mode, f["addr"], f["code"], access, cls, "major" if f["major"] else "-",
            name, perms, src))
    with open(os.path.join(out, "faults.tsv"), "w") as fh:
        fh.write("\n".join(tsv) + "\n")

    counts = collections.Counter(parsed[i].group("event") for i in kept)
    lock_stats = {
        "page_fault_user": sum(1 for f in faults if f["user"]),
        "page_fault_user_took_mmap_lock": took["user"],
        "page_fault_user_took_mmap_lock_read": took_read["user"],
        "page_fault_user_read_acquire_in_window": window_read["user"],
        "page_fault_user_by_lock": dict(sorted(summary["user"].items())),
        "page_fault_kernel": sum(1 for f in faults if not f["user"]),
        "page_fault_kernel_took_mmap_lock": took["kernel"],
        "page_fault_kernel_by_lock": dict(sorted(summary["kernel"].items())),
        "major_faults": majors,
        "mmap_lock_faults_by_access_and_mapping": {k: dict(v) for k, v in sorted(by_mapping.items())},
        "callchains_matched": chain_ok,
        "correlation": (
            "A fault's window is the events of the same tid after its exceptions:page_fault_* event up to "
            "the next page_fault_*, syscalls:*, sched:* or task:* event of that tid. The fault 'took "
            "mmap_lock' if the window holds a mmap_lock_acquire_returned with success=true whose kernel "
            "callchain contains exc_page_fault (callchains are recorded for that event only). lock column: "
            "vma = user fault with no mmap_lock acquire (handled under the per-VMA lock); trylock = "
            "acquired by __vmf_anon_prepare's mmap_read_trylock (VMA_OK_TRYLOCK: anon_vma prepared, the "
            "fault stays under the VMA lock); trylock_failed = that trylock failed "
            "(ANON_VMA_TRYLOCK_FAILED); mmap = read lock taken by lock_mm_and_find_vma (per-VMA attempt "
            "fell back, or a kernel-mode fault, which always uses mmap_lock); mmap_write = write lock "
            "(stack expansion); other:F = acquired by kernel function F; none = kernel fault with no "
            "acquire in its window (e.g. a pagefault_disable()d user copy: the handler gives up "
            "without locking and the kernel retries after fault_in_*); acquired = caller unknown "
            "(callchains did not match). A fault is 'major' if a major-faults software event of the "
            "same tid falls in its window. page_fault_user_read_acquire_in_window counts the user faults "
            "whose window holds a successful read acquire without looking at callchains (the plain "
            "window rule); it equals page_fault_user_took_mmap_lock_read when no unrelated acquire "
            "(e.g. from an untraced syscall) falls in a window."),
    }
    return {"lines": len(kept), "unparsed_perf_script_lines": unparsed,
            "dropped_tracer_events": dropped_tracer, "dropped_root_pre_exec_events": dropped_pre_exec,
            "event_counts": dict(sorted(counts.items())), "faults": lock_stats}


def strace_run(args, out, command):
    strace = shutil.which("strace")
    setarch = shutil.which("setarch")
    if not strace or not setarch:
        return {"skipped": "strace or setarch not installed"}
    trace = ("trace=memory,openat,open,close,clone,clone3,fork,vfork,execve,execveat,exit,exit_group")
    cmd = [setarch, os.uname().machine, "-R", strace, "-f", "-ttt", "-e", trace,
           "-o", os.path.join(out, "strace.txt"), "--", *command]
    with open(args.stdin, "rb") as si:
        r = subprocess.run(cmd, stdin=si, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           cwd=os.path.abspath(args.cwd or os.getcwd()))
    return {"file": "strace.txt", "command": cmd, "exit_status": r.returncode,
            "note": "a separate, second run of the same command (ASLR off via setarch -R); pids and "
                    "timings differ from perf.txt, addresses are normally the same"}


def compare_runs(out):
    """Compares the successful mmap results of the perf run and the strace run."""
    perf_res, strace_res = [], []
    try:
        with open(os.path.join(out, "perf.txt")) as f:
            for line in f:
                if "syscalls:sys_exit_mmap:" in line:
                    m = re.search(r"0x([0-9a-f]+)\s*$", line)
                    if m:
                        v = int(m.group(1), 16)
                        if v < (1 << 63):
                            perf_res.append(v)
        with open(os.path.join(out, "strace.txt")) as f:
            for line in f:
                m = re.search(r"(?:\bmmap\(|<\.\.\. mmap resumed>).*\)\s+=\s+0x([0-9a-f]+)", line)
                if m:
                    strace_res.append(int(m.group(1), 16))
    except OSError:
        return None
    a, b = collections.Counter(perf_res), collections.Counter(strace_res)
    return {"perf_mmap_results": len(perf_res), "strace_mmap_results": len(strace_res),
            "common": sum((a & b).values()), "identical_multiset": a == b}


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
    inner = [sys.executable, os.path.abspath(__file__), "--inner", "--out", out, "--state", state_file,
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

    perf_version = subprocess.run([perf, "--version"], stdout=subprocess.PIPE).stdout.decode().strip()
    files = sorted(os.path.relpath(os.path.join(d, n), out)
                   for d, _, ns in os.walk(out) for n in ns if not n.startswith("."))
    meta = {
        "format": FORMAT,
        "command": args.command,
        "cwd": cwd,
        "stdin": args.stdin,
        "kernel": os.uname().release,
        "machine": os.uname().machine,
        "date": started.isoformat(timespec="seconds"),
        "perf_version": perf_version,
        "perf_clock": "CLOCK_MONOTONIC (perf record -k CLOCK_MONOTONIC): perf.txt times and the "
                      "monotonic_ns values below are on the same clock",
        "aslr": "off (personality ADDR_NO_RANDOMIZE set in the child before execve, inherited)",
        "perf_record_command": [c.replace(out, "$OUT") for c in cmd[:cmd.index("--")]],
        "perf_events": used,
        "perf_events_missing": missing,
        "perf_lost": lost,
        "perf_record_log": [l.replace(out, "$OUT") for l in perf_log.splitlines() if l.strip()][-4:],
        "tracer_pid": state["tracer_pid"],
        "root_pid": state["root_pid"],
        "root_path": state.get("root_path"),
        "exit_status": state["root_status"],
        "files": {f: os.path.getsize(os.path.join(out, f)) for f in files},
        "perf_txt": {k: conv[k] for k in ("lines", "unparsed_perf_script_lines", "dropped_tracer_events",
                                          "dropped_root_pre_exec_events")},
        "event_counts": conv["event_counts"],
        "faults": conv["faults"],
        "execs": state["execs"],
        "exits": state["exits"],
        "tasks": state["tasks"],
        "signals": state["signals"],
        "errors": state["errors"],
        "strace": {k: ([c.replace(out, "$OUT") for c in v] if k == "command" else v)
                   for k, v in strace.items()},
        "strace_vs_perf_mmap": mmap_cmp,
    }
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    fl = conv["faults"]
    for e in state["errors"]:
        sys.stderr.write("capture.py: warning: %s\n" % e)
    print("%s: %d perf events, %d page_fault_user (%d took mmap_lock), %d page_fault_kernel, "
          "%d exec snapshots, %d exit snapshots, exit status %s%s" % (
              out, conv["lines"], fl["page_fault_user"], fl["page_fault_user_took_mmap_lock"],
              fl["page_fault_kernel"], len(state["execs"]),
              sum(1 for e in state["exits"] if "maps" in e), state["root_status"],
              ("; LOST %s" % lost) if lost else ""))
    return 1 if state["errors"] else 0


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


if __name__ == "__main__":
    sys.exit(main())
