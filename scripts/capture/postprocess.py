"""perf.data to perf.txt: the `perf script` lines of the traced tree only
(the tracer's own events and the root child's pre-exec events are dropped),
then the snapshot correlation (snapshots.py) and faults.tsv (faults.py)."""

import collections
import os

from .faults import fault_windows, write_faults
from .perfrun import MAJOR_EVENT, PERF_LINE, parse_chains, run_perf_script
from .snapshots import correlate


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

    segments = correlate(out, state, parsed, kept, line_of)
    faults = fault_windows(parsed, sorted(kept + helper), chains, chain_ok)
    lock_stats = write_faults(out, faults, line_of, segments, chain_ok)

    counts = collections.Counter(parsed[i].group("event") for i in kept)
    return {"lines": len(kept), "unparsed_perf_script_lines": unparsed,
            "dropped_tracer_events": dropped_tracer, "dropped_root_pre_exec_events": dropped_pre_exec,
            "event_counts": dict(sorted(counts.items())), "faults": lock_stats}
