"""Upload trace (perf script, strace, /proc/PID/maps) into the session, the
replay report with its warnings, and the fault-timeline plot of the
Address-space tab (dots per fault coloured by lock path, hover text)."""

import os
import time

from selenium.webdriver.common.action_chains import ActionChains

from . import OUT
from .results import check
from .server import http

PERF_LINE = "            prog 4242/4242 [000]  100.{:06d}: {}"
# a program maps 4 anonymous pages and writes two of them, reads a third;
# the last line is an event the replayer does not model (a warning)
PERF_EVENTS = [
    "syscalls:sys_enter_mmap: addr: 0x00000000, len: 0x00004000, prot: 0x00000003, flags: 0x00000022, fd: 0xffffffff, off: 0x00000000",
    "syscalls:sys_exit_mmap: 0x7f0000000000",
    "exceptions:page_fault_user: address=0x7f0000000010 ip=0x401000 error_code=0x6",
    "exceptions:page_fault_user: address=0x7f0000001010 ip=0x401000 error_code=0x6",
    "exceptions:page_fault_user: address=0x7f0000002010 ip=0x401000 error_code=0x4",
    "bogus:thing: nothing",
]
MAPS = """55555555e000-55555557f000 rw-p 00000000 00:00 0                          [heap]
7ffff7fc0000-7ffff7fc2000 rw-p 00000000 00:00 0
7ffff7fc3000-7ffff7fc5000 r--p 00000000 08:01 1234                       /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]
"""


def write(name, text):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def upload(p, path):
    before = p.d.execute_script("return document.querySelector('[data-testid=trace-report]').textContent")
    p.one('[data-testid="trace-upload"]').send_keys(path)
    p.wait(lambda: p.tid("trace-summary") and os.path.basename(path) in p.one('[data-testid="trace-summary"]').text
           and p.one('[data-testid="trace-report"]').text != before, 60, f"the replay report of {os.path.basename(path)}")
    p.idle()


def plot_dots(p):
    return p.d.execute_script("return Array.from(document.querySelectorAll('[data-testid=plot-fault]')).map(c => c.dataset.path)")


def perf_upload_check(p, base):
    """A perf script replayed under 6.4: report and warnings as the API answers them; the plot shows its faults."""
    text = "\n".join(PERF_LINE.format(i + 1, e) for i, e in enumerate(PERF_EVENTS)) + "\n"
    path = write("upload-perf.txt", text)
    p.new_session("6.4")
    upload(p, path)
    st, sid = 0, None
    st, s = http(base, "POST", "/v1/sessions", {"kernel": "6.4"})
    st, want = http(base, "POST", f"/v1/sessions/{s['id']}/replay", {"format": "perf", "text": text})
    http(base, "DELETE", f"/v1/sessions/{s['id']}")
    summary = p.one('[data-testid="trace-summary"]').text
    check("upload: perf script detected and replayed (report counts = the API's)",
          st == 200 and "(perf)" in summary and f"{want['applied']} lines applied" in summary and f"{want['skipped']} skipped" in summary, summary)
    warn = p.d.execute_script("return Array.from(document.querySelectorAll('[data-testid=trace-warnings] li')).map(l => l.textContent)")
    skipped = [l["what"] for l in want["lines"] if l["status"] != "applied"] + list(want.get("warnings", []))
    skipped += [n["text"] for n in want.get("line_counts", {}).get("not_understood", [])]
    check("upload: every skipped line, line not understood and server warning is listed",
          len(warn) == len(skipped) and all(any(w in x for x in warn) for w in skipped), f"{warn} vs {skipped}")
    dis = p.tid("trace-disagreements")
    check("upload: disagreements with the real kernel listed", len(p.q('[data-testid="trace-disagreements"] li')) == len(want["disagreements"]),
          f"{len(dis)} lists, {len(want['disagreements'])} expected")
    # the plot: one dot per replayed fault; 6.4's first write to a fresh anonymous VMA falls back (NO_ANON_VMA),
    # the next faults find the anon_vma and stay under the per-VMA lock
    faults = [l["what"] for l in want["lines"] if l["what"].startswith("fault ")]
    dots = p.eventually(lambda: plot_dots(p), lambda d: len(d) == len(faults))
    check("plot: one dot per fault of the replayed trace", len(dots) == len(faults) == 3, f"{dots} vs {faults}")
    check("plot: 6.4 — the first write falls back to mmap_lock, the later faults use the per-VMA lock",
          dots == ["fallback", "vmalock", "vmalock"], str(dots))
    strip = [v["start"] for v in p.strip_info()]
    check("upload: the replayed program's VMA is shown", "0x7f0000000000" in strip, str(strip))
    p.shot("trace-perf-uploaded")


def plot_scenario_check(p):
    """The libc scenario's faults in the plot, coloured as the fault results; hovering a dot shows the fault."""
    for kernel, want in (("6.4", "fallback"), ("6.3", "legacy")):
        p.new_session(kernel)
        p.run_scenario("libc", 3)
        p.tab("space")
        results = p.d.execute_script("return Array.from(document.querySelectorAll('[data-testid=scenario-fault] span')).map(s => s.className)")
        dots = p.eventually(lambda: plot_dots(p), lambda d: len(d) == 3)
        check(f"plot [{kernel}]: 3 fault dots coloured as the lock path of each fault ({want})",
              dots == results and set(dots) == {want}, f"{dots} vs {results}")
    dot = p.q('[data-testid="plot-fault"]')[1]
    p.d.execute_script("arguments[0].scrollIntoView({block:'center'})", dot)
    ActionChains(p.d).move_to_element(dot).perform()
    time.sleep(0.2)
    tip = p.one('[data-testid="plot-tip"]')
    text = tip.text if tip.is_displayed() else ""
    check("plot: hovering a dot shows the fault (address and lock path)", "0x7f0ce62fc010" in text and "mmap_lock" in text, text)
    p.shot("plot-hover")
    dot.click()
    fv = p.eventually(p.fault_view, lambda v: v["path"])
    check("plot: clicking a dot opens its full lock path", "mmap_lock" in fv["path"], str(fv))


def maps_strace_upload_check(p):
    """A /proc/PID/maps copy builds a process with those VMAs; an strace's unrecognised line is a warning."""
    p.new_session("6.18")
    upload(p, write("upload-maps.txt", MAPS))
    summary = p.one('[data-testid="trace-summary"]').text
    starts = p.eventually(lambda: [v["start"] for v in p.strip_info()], lambda s: len(s) == 4)
    want = ["0x" + line.split("-")[0] for line in MAPS.splitlines()]
    check("upload: /proc/PID/maps detected; the strip shows its 4 VMAs", "(maps)" in summary and starts == want, f"{summary!r} {starts}")
    strace = ('100 mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7f00000\n'
              '100 this is not a syscall line\n'
              '100 munmap(0x7ffff7f00000, 4096) = 0\n')
    upload(p, write("upload-strace.txt", strace))
    summary = p.one('[data-testid="trace-summary"]').text
    warn = p.d.execute_script("return Array.from(document.querySelectorAll('[data-testid=trace-warnings] li')).map(l => l.textContent)")
    check("upload: strace detected, its unrecognised line 2 reported as a warning",
          "(strace)" in summary and len(warn) == 1 and "line 2" in warn[0], f"{summary!r} {warn}")
    fa = p.one('[data-testid="trace-fault-agreement"]').text
    check("upload: a trace without faults says so instead of '0 / 0 = 1.000'", "no fault in the trace" in fa and "1.000" not in fa, fa)
    sid = p.d.execute_script("return location.hash.split('session=')[1]")
    _, stats = http(p.base, "GET", f"/v1/sessions/{sid}/stats")
    n = stats["faults"]["total"]
    cap = p.one('[data-testid="fault-plot"]').text
    check("plot: with faults counted but none a fault operation, the empty plot says where they came from",
          (n == 0 and "no fault yet" in cap) or (n > 0 and f"{n} fault" in cap and "not from fault operations" in cap), f"{n}: {cap}")
    p.shot("trace-strace-uploaded")
