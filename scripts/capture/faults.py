"""Page faults against mmap_lock: each fault's window of perf events, the
lock it took (classify), faults.tsv, and the lock statistics of meta.json."""

import collections
import os

from .perfrun import MAJOR_EVENT
from .snapshots import hint


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


def fault_windows(parsed, indices, chains, chain_ok):
    """The page faults among the perf events at `indices` (perf.txt lines and
    major-faults helper samples, in order), each with the mmap_lock acquires
    of its window and whether a major-faults sample fell in it."""
    faults = []
    open_fault = {}
    for i in indices:
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
    return faults


def classify(f):
    """The lock column of faults.tsv (see the "correlation" text below)."""
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


def write_faults(out, faults, line_of, segments, chain_ok):
    """Writes faults.tsv; returns the "faults" object of meta.json."""
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
        name, perms, src = hint(segments, f["pid"], ln, f["addr"])
        if cls not in ("vma", "none"):
            by_mapping["%s %s %s" % (mode, access, cls)][name if name.startswith("[") or name == "?" or
                                                         name == "[anon]" else "file"] += 1
        majors[mode] += f["major"]
        tsv.append("%d\t%d\t%s\t%s\t%#x\t%#x\t%s\t%s\t%s\t%s\t%s\t%s" % (
            ln, f["tid"], f["time"], mode, f["addr"], f["code"], access, cls, "major" if f["major"] else "-",
            name, perms, src))
    with open(os.path.join(out, "faults.tsv"), "w") as fh:
        fh.write("\n".join(tsv) + "\n")
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
    return lock_stats
