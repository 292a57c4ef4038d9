"""inner: the ptrace tracer, perf record's workload.

Forks the program with ASLR off and PTRACE_TRACEME, follows its forks,
vforks, clones and execs, and copies /proc/PID/maps and smaps at every exec
stop, every new process's first stop and every exit stop; the tracer's
state (tasks, execs, exits, signals, errors) goes to the --state file.
"""

import collections
import ctypes
import ctypes.util
import errno
import json
import os
import signal
import time

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
