"""meta.json: everything about a capture but the trace itself (command,
kernel, perf setup, the tracer's tasks, execs, exits and snapshots, fault
and lock statistics, the strace run), and the one-line summary printed."""

import json
import os
import subprocess
import sys

from . import FORMAT


def write_meta(out, args, cwd, started, perf, cmd, used, missing, lost, perf_log, state, conv, strace, mmap_cmp):
    """Writes OUT/meta.json from the outer run's pieces: the perf record
    command `cmd` and its log, the events used/missing, lost counts, the
    tracer's `state`, convert()'s result `conv` and the strace run."""
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


def report(out, state, conv, lost):
    """Prints the tracer's errors as warnings and the summary line; returns
    the exit status (1 if the tracer logged errors)."""
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
