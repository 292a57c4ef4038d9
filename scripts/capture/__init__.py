"""Record a real program on this machine as a trace mmsim can replay.

The package behind scripts/capture.py (the entry point, which keeps the
command line):

    sudo python3 scripts/capture.py --out traces/NAME -- PROGRAM ARGS...

Python 3 standard library only.  See scripts/CAPTURE.md for the output
format and for what a capture cannot see.

How it works (three processes):

  outer   (the script, as invoked; outer.py) checks the environment, then runs
            perf record -k CLOCK_MONOTONIC -e ... -- python3 capture.py --inner ...
          so that perf's inherited events cover the tracer and, through
          inheritance, every process the program creates.
  inner   (the script with --inner, perf's workload; tracer.py) forks the
          program with ASLR off and PTRACE_TRACEME, follows forks/vforks/clones/execs
          with ptrace, and writes /proc/PID/maps (and smaps) at every exec
          stop, every new child's first stop and every process's exit stop.
  outer   afterwards converts perf.data with `perf script` into perf.txt
          (only the events of the traced tree; the tracer's own events and
          the root child's pre-exec events are dropped; postprocess.py),
          correlates page faults with mmap_lock events (faults.tsv; faults.py),
          writes meta.json (meta.py) and, unless --no-strace, records a second
          run of the same command under `setarch -R strace -f` for file names
          (strace.txt; strace.py).

Modules: cli (arguments), outer (the outer run), tracer (inner: ptrace),
perfrun (perf events, record and script), postprocess (perf.data to
perf.txt), snapshots (maps snapshots against perf lines), faults (faults.tsv
and lock statistics), strace (the second run), meta (meta.json).
"""

import sys

FORMAT = "mmsim-capture/1"


def die(msg):
    sys.stderr.write("capture.py: " + msg + "\n")
    sys.exit(2)
