"""The maps snapshots of the tracer set against perf.txt: for each exec, exit
and new-task record, its perf.txt line (perf_line, perf_time, execve_line)
and the first line of its tid after the snapshot (next_line); and the
process images (segments) that give faults.tsv its mapping_hint column."""

import bisect
import collections
import os
import re


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


def correlate(out, state, parsed, kept, line_of):
    """Adds the perf.txt positions to the execs, exits and tasks of `state`;
    returns the image segments per process, for hint()."""
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
    return segments


def hint(segments, pid, line, addr):
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
