"""perf: the events recorded (those this kernel lacks are skipped and listed
in meta.json), `perf script` runs, and the parsing of their lines."""

import os
import re
import subprocess

from . import die

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
