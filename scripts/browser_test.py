#!/usr/bin/env python3
"""Browser test of the visualizer (public/) against a real mmsim server.

Usage: scripts/browser_test.py [path/to/mmsim]   (or MMSIM_BIN=…; default .build/debug/mmsim)
       MMSIM_URL=http://127.0.0.1:PORT/ scripts/browser_test.py   (use a server that is already running)

Starts the server with `--port 0 --public public`, reads the URL from its
`mmsim listening on http://…/` line, drives headless Chromium (1280×800)
through Selenium, and checks what the page renders. Screenshots go to
test-output/screenshots/. Prints `N passed, M failed`; exits 1 on failure.
Needs Debian's chromium + chromium-driver; installs selenium with pip if missing.
"""
import json, os, re, shutil, subprocess, sys, threading, time, traceback, urllib.request, urllib.error

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "test-output")
SHOTS = os.path.join(OUT, "screenshots")

try:
    import selenium  # noqa: F401
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "selenium"])
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import Select, WebDriverWait

PASSED, FAILED = [], []


def check(name, cond, detail=""):
    (PASSED if cond else FAILED).append(name)
    print(("PASS " if cond else "FAIL ") + name + ("" if cond or not detail else f" — {detail}"), flush=True)
    return cond


# ---------------------------------------------------------------- server
def start_server():
    url = os.environ.get("MMSIM_URL")
    if url:
        return None, url.rstrip("/") + "/"
    binary = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MMSIM_BIN", ".build/debug/mmsim")
    binary = binary if os.path.isabs(binary) else os.path.join(REPO, binary)
    if not os.path.exists(binary):
        raise SystemExit(f"server binary not found: {binary}")
    os.makedirs(OUT, exist_ok=True)
    proc = subprocess.Popen([binary, "--port", "0", "--public", "public"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    log = open(os.path.join(OUT, "browser-test-server.log"), "w")
    found = {}
    ready = threading.Event()

    def pump():
        for line in proc.stdout:
            log.write(line); log.flush()
            m = re.search(r"mmsim listening on (http://\S+)", line)
            if m and not ready.is_set():
                found["url"] = m.group(1); ready.set()
        ready.set()
    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60) or "url" not in found:
        proc.kill()
        raise SystemExit("server did not print 'mmsim listening on http://…' (see test-output/browser-test-server.log)")
    u = found["url"]
    return proc, u if u.endswith("/") else u + "/"


def http(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


# ---------------------------------------------------------------- browser
def find_exe(*names):
    for n in names:
        p = shutil.which(n) or (n if os.path.exists(n) else None)
        if p:
            return p
    return None


def make_driver():
    chrome = find_exe("chromium", "chromium-browser", "google-chrome", "/usr/lib/chromium/chromium")
    driver = find_exe("chromedriver", "/usr/lib/chromium/chromedriver")
    if not chrome or not driver:
        raise SystemExit("chromium / chromedriver not found (apt-get install -y chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,800",
              "--force-device-scale-factor=1", "--disable-extensions", "--no-first-run"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    d.set_window_size(1280, 800)
    # the window includes browser chrome: pin the viewport itself to 1280×800
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    return d


class Page:
    def __init__(self, d, base):
        self.d, self.base = d, base
        self.console = []

    def wait(self, fn, timeout=40, what="condition"):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(lambda d: fn())
        except Exception:
            page = ""
            try:
                page = self.d.execute_script(
                    "const e = document.getElementById('error'); const s = document.getElementById('status');"
                    "return (e && !e.hidden ? 'error banner: ' + e.textContent.trim() + '; ' : '') + 'status: ' + (s ? s.textContent : '')")
            except Exception:
                pass
            raise AssertionError(f"timed out waiting for {what} ({page})")

    def q(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def one(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def tid(self, t, extra=""):
        return self.q(f'[data-testid="{t}"]{extra}')

    def click(self, css):
        el = self.one(css)
        self.d.execute_script("arguments[0].scrollIntoView({block:'nearest'})", el)
        el.click()

    def shot(self, name):
        os.makedirs(SHOTS, exist_ok=True)
        p = os.path.join(SHOTS, name + ".png")
        self.d.save_screenshot(p)
        return p

    def logs(self):
        try:
            self.console += self.d.get_log("browser")
        except Exception as e:  # pragma: no cover
            print("cannot read browser log:", e)
        return self.console

    def idle(self):
        """Waits until no request, scheduled refresh or queued SSE event is pending."""
        time.sleep(0.3)  # let SSE events that are already on the wire arrive
        self.wait(lambda: self.d.execute_script(
            "return !document.body.classList.contains('busy') && !document.body.dataset.refresh"), 60, "the page to settle")

    def strip_info(self):
        """The strip's VMAs read in one go (the DOM is re-rendered on every refresh)."""
        return self.d.execute_script("""return Array.from(document.querySelectorAll('[data-testid="strip"] [data-testid="vma"]')).map(v => ({
            start: v.dataset.start, av: v.dataset.anonVma || null,
            badges: Array.from(v.querySelectorAll('[data-testid="anon-vma-badge"]')).map(b => b.dataset.anonVma),
            marks: v.querySelectorAll('.pg').length}))""")

    def eventually(self, fn, pred, timeout=5):
        """fn() until pred(value) or timeout; returns the last value."""
        end = time.time() + timeout
        while True:
            try:
                v = fn()
                if pred(v) or time.time() > end:
                    return v
            except Exception:
                if time.time() > end:
                    raise
            time.sleep(0.15)

    def tab(self, name):
        self.click(f'[data-testid="tab-{name}"]')

    def new_session(self, kernel):
        self.tab("space")
        before = self.d.execute_script("return location.hash")
        Select(self.one('[data-testid="kernel-select"]')).select_by_value(kernel)
        self.click('[data-testid="create-session"]')
        self.wait(lambda: self.d.execute_script(
            "const k = document.querySelector('[data-testid=session-kernel]');"
            "return location.hash !== arguments[0] && k && k.textContent === arguments[1]", before, kernel),
            what=f"a new session under {kernel}")
        self.idle()

    def run_scenario(self, sid, expect_faults):
        Select(self.one('[data-testid="scenario-select"]')).select_by_value(sid)
        self.click('[data-testid="scenario-run"]')
        self.wait(lambda: len(self.tid("scenario-fault")) >= expect_faults, 120, f"{expect_faults} fault results of {sid}")
        self.idle()

    def strip_vmas(self):
        return self.q('[data-testid="strip"] [data-testid="vma"]')

    def fault_view(self):
        path = self.tid("lock-path")
        return {
            "path": path[0].text if path else "",
            "reason": (self.tid("lock-reason") or [None])[0].text if self.tid("lock-reason") else "",
            "code": (self.tid("lock-code") or [None])[0].text if self.tid("lock-code") else "",
        }


DATA_FAULT = "0x7f0ce62fc010"
EXPECT = {
    "6.4": ("fell back to mmap_lock", "vma_not_anonymous", None),
    "6.18": ("per-VMA lock", None, "VMA_OK_TRYLOCK"),
}


def libc_checks(p, kernel):
    p.new_session(kernel)
    check(f"[{kernel}] #session=<id> in the URL", "#session=" in p.d.current_url, p.d.current_url)
    p.run_scenario("libc", 3)
    info = p.eventually(p.strip_info, lambda v: len(v) == 5 and sum(len(x["badges"]) for x in v) == 2)
    check(f"[{kernel}] libc: 5 VMAs in the strip", len(info) == 5, f"got {len(info)}")
    rows = p.eventually(lambda: len(p.tid("vma-row")), lambda n: n == 5)
    check(f"[{kernel}] libc: 5 rows in the VMA table", rows == 5, f"got {rows}")
    starts = [v["start"] for v in info]
    check(f"[{kernel}] libc: strip starts at the seed's base", starts[:1] == ["0x7f0ce612e000"], str(starts))
    ids = [b for v in info for b in v["badges"]]
    by_vma = {v["start"]: v["av"] for v in info}
    check(f"[{kernel}] libc: 2 anon_vma badges, distinct", len(ids) == 2 and len(set(ids)) == 2, str(ids))
    check(f"[{kernel}] libc: badges on .data and the anonymous tail",
          bool(by_vma.get("0x7f0ce62fc000")) and bool(by_vma.get("0x7f0ce6302000")) and not by_vma.get("0x7f0ce6154000"), str(by_vma))
    marks = sum(v["marks"] for v in info)
    check(f"[{kernel}] libc: resident pages marked", marks >= 3, f"{marks} marks")
    p.shot(f"libc-{kernel}-address-space")

    want_text, want_reason, want_code = EXPECT[kernel]
    p.click(f'[data-testid="scenario-fault"][data-address="{DATA_FAULT}"]')
    p.wait(lambda: p.tid("lock-path"), what="the fault path")
    fv = p.fault_view()
    check(f"[{kernel}] data write fault: lock path '{want_text}'", want_text in fv["path"], fv["path"])
    if want_reason:
        check(f"[{kernel}] data write fault: reason {want_reason}", fv["reason"] == want_reason and want_reason in fv["path"], str(fv))
    if want_code:
        check(f"[{kernel}] data write fault: code {want_code}", fv["code"] == want_code, str(fv))
    check(f"[{kernel}] fault path drawn (lock_vma_under_rcu → … → PTE)",
          len(p.tid("fault-step")) >= 1 and len(p.tid("fault-pte")) == 1 and "lock_vma_under_rcu" in p.one('[data-testid="fault-path"]').text,
          p.one('[data-testid="fault-path"]').text[:200] if p.tid("fault-path") else "no path")
    p.shot(f"libc-{kernel}-fault")

    # timeline: every op listed; picking the data fault shows the state at that point
    entries = p.tid("timeline-entry")
    check(f"[{kernel}] timeline lists the 11 operations", len(entries) == 11, f"got {len(entries)}")
    sel = f'[data-testid="timeline-entry"][data-address="{DATA_FAULT}"]'
    if p.q(sel):
        p.click(sel)
        p.wait(lambda: p.one('[data-testid="snapshot-banner"]').is_displayed(), 30, "the snapshot banner")
        p.idle()
        info_then = p.eventually(p.strip_info, lambda v: len(v) == 5 and sum(len(x["badges"]) for x in v) == 1)
        ids_then = [b for v in info_then for b in v["badges"]]
        check(f"[{kernel}] timeline: state after the data fault has 1 anon_vma", len(ids_then) == 1, str(ids_then))
        fv2 = p.fault_view()
        check(f"[{kernel}] timeline: the picked fault shows '{want_text}'", want_text in fv2["path"], fv2["path"])
        p.shot(f"libc-{kernel}-timeline-snapshot")
        p.click('[data-testid="snapshot-back"]')
        p.wait(lambda: not p.one('[data-testid="snapshot-banner"]').is_displayed(), what="back to live")
        p.idle()
        p.wait(lambda: sum(len(x["badges"]) for x in p.strip_info()) == 2, what="live state again")
    else:
        check(f"[{kernel}] timeline has the data fault entry", False, "missing")

    # clicking a position of the strip opens the fault panel there; the second write to the
    # anonymous tail (anon_vma now set) takes the per-VMA lock under both models
    p.click('[data-testid="strip"] [data-testid="vma"][data-start="0x7f0ce6302000"]')
    a = p.one('[data-testid="fault-address"]').get_attribute("value")
    inside = a.startswith("0x") and 0x7f0ce6302000 <= int(a, 16) < 0x7f0ce630f000
    check(f"[{kernel}] strip click puts its address in the fault panel", inside, a)
    Select(p.one('[data-testid="fault-access"]')).select_by_value("write")
    p.click('[data-testid="fault-submit"]')
    p.wait(lambda: a in p.one('[data-testid="fault-result"]').text, what="the fault answer")
    fv3 = p.fault_view()
    check(f"[{kernel}] fault panel: anon write with anon_vma set → per-VMA lock, VMA_OK",
          fv3["path"] == "per-VMA lock" and fv3["code"] == "VMA_OK", str(fv3))
    p.idle()
    p.tab("forest")
    p.wait(lambda: p.tid("forest-node") or p.tid("forest-empty"), what="the forest")
    nodes = sorted(p.d.execute_script("return Array.from(document.querySelectorAll('[data-testid=forest-node]')).map(n => n.dataset.id)"))
    check(f"[{kernel}] forest: one node per anon_vma, same ids as the badges", nodes == sorted(ids), f"{nodes} vs {ids}")
    check(f"[{kernel}] forest: the 2 VMAs linked to their anon_vmas", len(p.tid("forest-vma")) == 2 and len(p.tid("forest-chain")) >= 2,
          f"{len(p.tid('forest-vma'))} vmas, {len(p.tid('forest-chain'))} links")
    p.shot(f"libc-{kernel}-forest")
    p.tab("space")
    return ids


def fork_forest_check(p):
    p.new_session("6.18")
    p.run_scenario("fork", 4)
    procs = p.eventually(lambda: p.d.execute_script(
        "return Array.from(document.querySelectorAll('[data-testid=process]')).map(b => b.textContent)"), lambda l: len(l) == 2)
    check("fork: process tree shows parent and child", len(procs) == 2 and "ppid 1" in procs[1], repr(procs))
    p.tab("forest")
    p.wait(lambda: p.tid("forest-node"), what="the forest")
    edges = p.tid("forest-edge")
    check("fork: forest has a parent→child anon_vma edge", len(edges) >= 1, f"{len(edges)} edges, {len(p.tid('forest-node'))} nodes")
    p.shot("fork-forest")
    p.click('[data-testid="process"][data-pid="2"]') if p.q('[data-testid="process"][data-pid="2"]') else None
    p.tab("space")
    p.idle()
    p.shot("fork-child-address-space")


def live_update_check(p, base):
    sid = p.d.execute_script("return location.hash.split('session=')[1]")
    before = len(p.tid("timeline-entry"))
    nv = len(p.strip_vmas())
    st, body = http(base, "POST", f"/v1/sessions/{sid}/processes/1/syscalls/mmap",
                    {"addr": "0x7f0000900000", "length": 8192, "prot": "PROT_READ", "flags": "MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED", "fd": -1, "offset": 0})
    check("curl-style mmap accepted", st == 200, f"{st} {body}")
    try:
        p.wait(lambda: len(p.tid("timeline-entry")) == before + 1, 10, "the SSE timeline entry")
        p.wait(lambda: len(p.strip_vmas()) == nv + 1, 10, "the strip to update")
        check("live: an op made outside the page appears without reload (timeline + strip)", True)
    except AssertionError as e:
        check("live: an op made outside the page appears without reload (timeline + strip)", False, str(e))
    p.shot("timeline-live")


def error_check(p, base):
    bogus = "0000not-a-session0000"
    st, body = http(base, "GET", f"/v1/sessions/{bogus}")
    expected = body["error"]["message"] if isinstance(body, dict) and "error" in body else None
    box = p.one('[data-testid="open-id"]')
    box.clear(); box.send_keys(bogus)
    p.click('[data-testid="open-session"]')
    p.wait(lambda: p.one('[data-testid="error"]').is_displayed(), what="the error banner")
    text = p.one('[data-testid="error-message"]').text
    check("error banner shows the server's JSON error message", st == 404 and expected and expected in text, f"{st} {expected!r} in {text!r}")
    p.shot("error-banner")
    p.d.execute_script("document.getElementById('error-close').click()")
    return bogus


def other_scenarios_check(p):
    """The other ready-made scenarios run without an error and show what they are about."""
    def badges():
        return [(v["start"], v["badges"]) for v in p.strip_info()]
    for sid, nfaults, what, pred in (
        ("adjacent", 2, "the two VMAs share one anon_vma (reuse)",
         lambda b: len(b) == 2 and b[0][1] and b[0][1] == b[1][1]),
        ("cow", 3, "the private file VMA got an anon_vma",
         lambda b: len(b) == 1 and len(b[0][1]) == 1),
        ("gap", 4, "the gap is filled (2 VMAs left, 2 anon_vmas)",
         lambda b: len(b) == 2 and len({x for _, l in b for x in l}) == 2),
        ("stack", 3, "the stack VMA grew down to 0x7ffffffd0000",
         lambda b: len(b) == 1 and b[0][0] == "0x7ffffffd0000"),
    ):
        p.new_session("6.18")
        p.run_scenario(sid, nfaults)
        shown = p.one('[data-testid="error"]').is_displayed()
        b = p.eventually(badges, pred)
        check(f"scenario {sid}: runs without error; {what}", not shown and pred(b), str(b))
        if sid == "cow":
            p.click('[data-testid="scenario-fault"][data-address="0x7f0000301000"]')
            h = p.eventually(lambda: p.one('[data-testid="fault-handler"]').text, lambda t: "do_cow_fault" in t)
            check("scenario cow: the first write is handled by do_cow_fault", "do_cow_fault" in h, h)
        p.shot(f"scenario-{sid}")


def keyboard_check(p):
    """Controls are reachable with Tab, show a visible focus ring, and work with Enter."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    before = p.d.execute_script("return location.hash")
    p.d.execute_script("document.activeElement && document.activeElement.blur()")
    ActionChains(p.d).move_to_element(p.one("h1")).click().perform()  # start of the tab order: the page title
    seen = []
    for _ in range(5):
        ActionChains(p.d).send_keys(Keys.TAB).perform()
        seen.append(p.d.execute_script("const a = document.activeElement; return [a.tagName, a.dataset.testid || a.id || '', getComputedStyle(a).outlineStyle]"))
    check("keyboard: Tab walks the session bar (kernel, options, name, New session) with a visible focus ring",
          [x[1] for x in seen] == ["kernel-select", "opt-eager", "opt-skip", "session-name", "create-session"]
          and all(x[2] not in ("none", "") for x in seen), str(seen))
    ActionChains(p.d).send_keys(Keys.ENTER).perform()
    try:
        p.wait(lambda: p.d.execute_script("return location.hash") != before, 20, "a session created with Enter")
        p.idle()
        check("keyboard: Enter on 'New session' creates a session", True)
    except AssertionError as e:
        check("keyboard: Enter on 'New session' creates a session", False, str(e))


def compare_check(p):
    p.tab("compare")
    Select(p.one('[data-testid="compare-scenario"]')).select_by_value("libc")
    p.click('[data-testid="compare-run"]')
    p.wait(lambda: p.tid("compare-table"), 120, "the comparison table")
    cells = {(c.get_attribute("data-kernel"), int(c.get_attribute("data-fault"))): c.text for c in p.tid("compare-cell")}
    kernels = sorted({k for k, _ in cells})
    check("compare: 3 faults × 4 models", len(cells) == 12 and len(kernels) == 4, f"{len(cells)} cells, {kernels}")
    row = {k: cells.get((k, 1), "") for k in ("6.3", "v3-patch", "6.4", "6.18")}
    ok = ("mmap_lock only" in row["6.3"] and "vma_not_anonymous" in row["v3-patch"] and "vma_not_anonymous" in row["6.4"]
          and "per-VMA lock" in row["6.18"])
    check("compare: data fault per model (6.3 mmap_lock, v3/6.4 fallback, 6.18 per-VMA)", ok, str(row))
    check("compare: counters table", len(p.q('[data-testid="compare-stats"] tbody tr')) >= 5)
    m = re.search(r"(\d+) of 3 faults differ between the models(?: \(POST /v1/compare: (\d+)\))?", p.one('[data-testid="compare-diff"]').text)
    check("compare: all 3 libc faults differ between the models (and /v1/compare agrees when present)",
          bool(m) and m.group(1) == "3" and m.group(2) in (None, "3"), m.group(0) if m else "no summary")
    p.shot("compare")
    p.tab("space")


def perf_check(p):
    first = """return (window.__mmsimRenders || []).find(r => r.vmas === 1000 && r.session === location.hash.split('session=')[1]) || null"""
    p.new_session("6.18")
    Select(p.one('[data-testid="scenario-select"]')).select_by_value("thousand")
    p.click('[data-testid="scenario-run"]')
    p.wait(lambda: p.d.execute_script(first), 300, "1000 VMAs rendered")
    p.idle()
    r = p.d.execute_script(first)
    n = len(p.strip_vmas())
    rows = len(p.tid("vma-row"))
    print(f"first render of the strip + table with {n} VMAs: {r['ms']:.1f} ms "
          f"(strip {r['strip']:.1f}, table {r['table']:.1f}, style+layout {r['layout']:.1f})", flush=True)
    check("1000 VMAs: 1000 strip elements and 1000 table rows", n == 1000 and rows == 1000, f"{n} / {rows}")
    check("1000 VMAs: strip+table render < 1000 ms", r["ms"] < 1000, f"{r['ms']} ms")
    p.shot("thousand-vmas")
    # a cold page opened from the #session= link renders the same session
    p.d.refresh()
    p.wait(lambda: p.d.execute_script(first), 120, "1000 VMAs rendered after a reload")
    cold = p.d.execute_script(first)
    print(f"first render after reloading the page (#session= link): {cold['ms']:.1f} ms", flush=True)
    check("1000 VMAs: render on a freshly loaded page < 1000 ms", cold["ms"] < 1000, f"{cold['ms']} ms")
    p.idle()
    return max(r["ms"], cold["ms"])


def run_all(d, base):
    """Every check, in order; returns the 1000-VMA render time (ms) or None."""
    ms = None
    p = Page(d, base)
    d.get(base)
    p.wait(lambda: d.execute_script("return document.body.dataset.ready") == "true", 30, "the page to load")
    opts = [o.get_attribute("value") for o in p.q('[data-testid="kernel-select"] option')]
    check("kernel models listed from GET /v1/kernels", all(k in opts for k in ("6.3", "v3-patch", "6.4", "6.18")), str(opts))
    for kernel in ("6.4", "6.18"):
        try:
            libc_checks(p, kernel)
        except Exception as e:
            check(f"[{kernel}] libc scenario ran", False, f"{e}"); p.shot(f"libc-{kernel}-failure"); traceback.print_exc()
    for name, fn in (("live updates", lambda: live_update_check(p, base)), ("fork", lambda: fork_forest_check(p)),
                     ("other scenarios", lambda: other_scenarios_check(p)), ("keyboard", lambda: keyboard_check(p)),
                     ("compare", lambda: compare_check(p))):
        try:
            fn()
        except Exception as e:
            check(f"{name} ran", False, str(e)); p.shot(f"{name.replace(' ', '-')}-failure"); traceback.print_exc()
    try:
        ms = perf_check(p)
    except Exception as e:
        check("1000-VMA scenario ran", False, str(e)); p.shot("thousand-failure"); traceback.print_exc()
    logs_before_error = list(p.logs())
    bogus = None
    try:
        bogus = error_check(p, base)
    except Exception as e:
        check("error banner", False, str(e)); traceback.print_exc()
    logs = p.logs()
    severe = [l for l in logs if l.get("level") == "SEVERE"]
    # the deliberate 404 of the error check is logged by Chromium as a failed resource load
    unexpected = []
    for l in severe:
        msg = l.get("message", "")
        if bogus and bogus in msg and l not in logs_before_error:
            continue
        if "/v1/compare" in msg and " 404 " in msg:
            # documented fallback: without POST /v1/compare the page runs one session per model
            print("  NOTE: POST /v1/compare answered 404; the compare view used one session per model")
            continue
        unexpected.append(l)
    for l in unexpected:
        print("  console:", l.get("message"))
    check("browser console logged no errors", not unexpected, f"{len(unexpected)} error(s)")
    return ms


def main():
    try:
        proc, base = start_server()
    except SystemExit as e:
        check("server started", False, str(e))
        print(f"{len(PASSED)} passed, {len(FAILED)} failed")
        sys.exit(1)
    print(f"server: {base}", flush=True)
    d = None
    ms = None
    try:
        try:
            d = make_driver()
        except (SystemExit, Exception) as e:
            check("headless Chromium started", False, str(e))
        if d:
            try:
                ms = run_all(d, base)
            except Exception as e:
                check("the page loaded and the checks ran", False, str(e)); traceback.print_exc()
    finally:
        if d:
            d.quit()
        if proc:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    if ms is not None:
        print(f"render time (1000 VMAs, strip + table): {ms:.1f} ms")
    print(f"screenshots: {SHOTS}")
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    sys.exit(1 if FAILED or not PASSED else 0)


if __name__ == "__main__":
    main()
