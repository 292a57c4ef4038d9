"""The second run: the same command under `setarch -R strace -f` (strace.txt,
for file names), and how its mmap results compare with the perf run's."""

import collections
import os
import re
import shutil
import subprocess


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
