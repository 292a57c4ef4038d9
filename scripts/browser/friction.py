"""The page's rough edges, each checked fixed: model knowledge from the
server (kernels, options, injections), scenario results brought into view,
the fault panel labelled when the process changes (fork), and the pgoff
column in hex pages with columns that fit."""

from .results import check
from .server import http


def model_lists_check(p, base):
    """Every kernel of GET /v1/kernels (its default selected), every option and injection, and nothing else."""
    st, d = http(base, "GET", "/v1/kernels")
    ids = [k["id"] for k in d["kernels"]]
    opts = [o.get_attribute("value") for o in p.q('[data-testid="kernel-select"] option')]
    check("kernel select lists exactly GET /v1/kernels, in its order", st == 200 and opts == ids, f"{opts} vs {ids}")
    sel = p.d.execute_script("return document.querySelector('[data-testid=kernel-select]').value")
    check("kernel select starts on the server's default model", sel == d.get("default", ids[0]), f"{sel} vs {d.get('default')}")
    cmp = [i.get_attribute("value") for i in p.q('[data-testid="compare-kernels"] input')]
    check("compare tab offers exactly the kernels of GET /v1/kernels", cmp == ids, f"{cmp} vs {ids}")
    ticked = [i.get_attribute("value") for i in p.q('[data-testid="compare-kernels"] input:checked')]
    want = [k for k in ids if k in d.get("compare_default", ids)]
    check("compare tab ticks the server's compare_default models, not all of them", ticked == want, f"{ticked} vs {want}")

    def names(key, schema, path):
        if d.get(key):
            return [x if isinstance(x, str) else x.get("name", x.get("id")) for x in d[key]]
        _, doc = http(base, "GET", "/openapi.json")
        s = doc["components"]["schemas"][schema]
        for k in path:
            s = s["properties"][k]
        return list(s["properties"].keys())
    want_opts = names("options", "SessionCreate", ["options"])
    want_inj = names("injections", "Fault", ["inject"])
    got_opts = [i.get_attribute("name") for i in p.q('[data-testid="session-options"] input')]
    got_inj = [i.get_attribute("name") for i in p.q('[data-testid="fault-injections"] input')]
    check("session options are the server's (GET /v1/kernels, else /openapi.json)", got_opts == want_opts and len(got_opts) > 0, f"{got_opts} vs {want_opts}")
    check("fault injections are the server's (GET /v1/kernels, else /openapi.json)", got_inj == want_inj and len(got_inj) > 0, f"{got_inj} vs {want_inj}")


def results_in_view_check(p):
    """After a run the summary of its results is on screen, inside the left column's visible part."""
    p.new_session("6.18")
    p.d.execute_script("document.querySelector('.col.left').scrollTop = 0")
    p.run_scenario("libc", 3)
    p.wait(lambda: p.one('[data-testid="scenario-summary"]').is_displayed(), what="the run summary")
    import time
    time.sleep(0.8)  # smooth scrolling
    r = p.d.execute_script("""const s = document.querySelector('[data-testid=scenario-summary]').getBoundingClientRect();
        const c = document.querySelector('.col.left').getBoundingClientRect();
        return {top: s.top, bottom: s.bottom, ctop: c.top, cbottom: c.bottom, vh: innerHeight}""")
    inview = r["top"] >= r["ctop"] - 1 and r["bottom"] <= min(r["cbottom"], r["vh"]) + 1
    text = p.one('[data-testid="scenario-summary"]').text
    check("scenario results: the run summary is scrolled into view", inview, str(r))
    n_faults = len(p.tid("scenario-fault"))
    check("scenario results: the summary counts the run's faults", f"{n_faults} faults" in text, text)
    p.shot("results-in-view")


def fork_fault_label_check(p):
    """A result shown for the parent is labelled once the child is selected."""
    p.new_session("6.18")
    p.run_scenario("fork", 4)
    first = p.q('[data-testid="scenario-fault"]')[0]
    p.d.execute_script("arguments[0].scrollIntoView({block:'nearest'})", first)
    first.click()
    p.wait(lambda: p.tid("lock-path"), what="the parent's fault")
    stale0 = p.one('[data-testid="fault-stale"]').is_displayed()
    p.click('[data-testid="process"][data-pid="2"]')
    p.idle()
    note = p.eventually(lambda: p.one('[data-testid="fault-stale"]'), lambda e: e.is_displayed())
    text = note.text if note.is_displayed() else ""
    check("fork: the parent's fault result is not labelled while the parent is selected", not stale0)
    check("fork: selecting the child labels the shown result as pid 1's", "pid 1" in text and "pid 2" in text, text)
    p.shot("fork-fault-labelled")
    p.click('[data-testid="process"][data-pid="1"]')
    p.idle()
    gone = p.eventually(lambda: p.one('[data-testid="fault-stale"]').is_displayed(), lambda v: not v)
    check("fork: back on the parent, the label goes away", not gone)


def pgoff_check(p):
    """pgoff shown as /proc does, in hex (pages); no cell of the VMA table is cut."""
    p.new_session("6.18")
    p.run_scenario("libc", 3)
    rows = p.eventually(lambda: p.d.execute_script("""return Array.from(document.querySelectorAll('[data-testid=vma-row]')).map(r => {
        const c = r.children; return {start: c[0].querySelector('button').dataset.start, pgoff: c[3].textContent,
        cut: Array.from(c).slice(0, 8).some(x => x.scrollWidth > x.clientWidth + 1)}})"""), lambda r: len(r) == 5)
    sid = p.d.execute_script("return location.hash.split('session=')[1]")
    _, vm = http(p.base, "GET", f"/v1/sessions/{sid}/processes/1/vmas")
    want = {v["start"]: hex(v["pgoff"]) for v in vm["vmas"]}
    got = {r["start"]: r["pgoff"] for r in rows}
    check("VMA table: pgoff in hex pages (0x…), equal to the API's vm_pgoff", got == want, f"{got} vs {want}")
    check("VMA table: the .data segment's pgoff is 0x1ce (offset 0x1ce000 / 4096)", got.get("0x7f0ce62fc000") == hex(0x1ce000 // 4096), str(got))
    check("VMA table: no cell cut short", not any(r["cut"] for r in rows), str([r for r in rows if r["cut"]]))
    heads = p.d.execute_script("return Array.from(document.querySelectorAll('.vma-table .vhead span')).filter(x => x.scrollWidth > x.clientWidth + 1).map(x => x.textContent)")
    check("VMA table: no column header cut short", not heads, str(heads))
    wide = p.d.execute_script("const w = document.getElementById('vma-table'); return [w.scrollWidth, w.clientWidth]")
    check("VMA table: fits the panel without horizontal scrolling", wide[0] <= wide[1] + 1, str(wide))


def races_fresh_setup_check(p):
    """Set up with no session open makes one (as Run in this session does); the thread programs show whole."""
    from selenium.webdriver.support.ui import Select
    p.d.get(p.base)
    p.wait(lambda: p.d.execute_script("return document.body.dataset.ready") == "true", 30, "the page to load")
    p.tab("races")
    Select(p.one('[data-testid="race-preset"]')).select_by_value("S6")
    p.click('[data-testid="race-setup"]')
    p.wait(lambda: len(p.tid("race-program")) == 3, 30, "the programs of S6")
    p.idle()
    err = p.one('[data-testid="error"]').is_displayed()
    sid = p.d.execute_script("return new URLSearchParams(location.hash.slice(1)).get('session')")
    check("races: Set up with no session open creates one instead of failing", sid and not err and p.tid("session-kernel"), f"{sid} error={err}")
    fit = p.d.execute_script("""return Array.from(document.querySelectorAll('[data-testid=race-program]')).map(t => ({
        t: t.dataset.thread, h: t.scrollHeight - t.clientHeight, w: t.scrollWidth - t.clientWidth, lines: t.value.split('\\n').length}))""")
    check("races: every thread program shows whole (no scrolling either way)", fit and all(f["h"] <= 1 and f["w"] <= 1 for f in fit), str(fit))
    p.shot("races-fresh-setup")
