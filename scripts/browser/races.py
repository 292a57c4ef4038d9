"""The Races tab against POST …/explore and …/interleave: preset S1 under
v3-no-26 (the thread's series without patch 26/35) lists D1 and D2, the
schedule of its D5 hazard stepped to the end shows the firing step outlined
in red, the same preset under v3-patch lists none, and Compare models runs
every kernel of GET /v1/kernels."""

from selenium.webdriver.support.ui import Select

from .results import check
from .server import http

# D1r (latent R-E) fires wherever a per-VMA anonymous fault is admitted in
# v3-patch and 6.4–6.4.8; the acceptance scenarios ignore it there
LATENT = {"D1r"}


def explore_available(base):
    """True when the server has the explore route (a 404 naming the session, not the route, for a bogus id)."""
    st, s = http(base, "POST", "/v1/sessions", {})
    if st not in (200, 201):
        return False
    st, body = http(base, "POST", f"/v1/sessions/{s['id']}/explore", {"pid": 1, "threads": {}})
    http(base, "DELETE", f"/v1/sessions/{s['id']}")
    msg = body.get("error", {}).get("message", "") if isinstance(body, dict) else str(body)
    return st in (200, 400, 409, 422) or (st == 404 and "route" not in msg.lower())


def hazards(p):
    return p.d.execute_script("""return Array.from(document.querySelectorAll('[data-testid=race-hazards] li[data-detector]')).map(l => ({
        detector: l.dataset.detector, text: l.textContent}))""")


def setup_and_explore(p, kernel, preset="S1"):
    p.new_session(kernel)
    p.tab("races")
    Select(p.one('[data-testid="race-preset"]')).select_by_value(preset)
    p.click('[data-testid="race-setup"]')
    p.wait(lambda: len(p.tid("race-program")) >= 2, 30, f"the programs of {preset}")
    p.idle()
    p.click('[data-testid="race-explore"]')
    p.wait(lambda: p.q('[data-testid="race-hazards"] li'), 300, f"the explore answer under {kernel}")
    p.idle()
    return hazards(p)


def step_text(p):
    return p.one('[data-testid="race-step"]').text


def races_check(p, base):
    st, d = http(base, "GET", "/v1/kernels")
    ids = [k["id"] for k in d["kernels"]]
    if not explore_available(base) or "v3-no-26" not in ids:
        print("  NOTE: the server has no POST …/explore or no v3-no-26 model; the Races checks did not run", flush=True)
        return False
    progs = None
    hz = setup_and_explore(p, "v3-no-26")
    progs = [t.get_attribute("data-thread") for t in p.tid("race-program")]
    check("races: S1 sets up one editable program per thread (T1, T2)", progs == ["T1", "T2"], str(progs))
    dets = {h["detector"] for h in hz}
    check("races [v3-no-26]: S1 lists D1 and D2 hazards", {"D1", "D2"} <= dets, str(sorted(dets)))
    named = all(len(h["text"].split()) > 4 for h in hz)
    check("races: each hazard shows its name and an explanation", named, str([h["text"][:80] for h in hz]))
    p.shot("races-v3-no-26-hazards")

    d5 = p.q('[data-testid="race-hazards"] li[data-detector="D5"] .race-pick')
    check("races [v3-no-26]: S1 lists a D5 (VMA use-after-free) hazard", bool(d5), str(sorted(dets)))
    if d5:
        p.d.execute_script("arguments[0].scrollIntoView({block:'center'})", d5[0])
        d5[0].click()
        p.wait(lambda: p.tid("race-box"), 60, "the lane view of the D5 schedule")
        lanes = [l.get_attribute("data-thread") for l in p.tid("race-lane")]
        check("races: one lane per thread and one for rcu", lanes[:2] == ["T1", "T2"] and lanes[-1] == "rcu", str(lanes))
        p.click('[data-testid="race-first"]')
        first = step_text(p)
        fired_at_first = p.q('[data-testid="race-box"].fired')
        n = len(p.tid("race-box"))
        check("races: the counter reads '1 / N' at the first step", first == f"1 / {n}", f"{first} (N={n})")
        check("races: no step outlined before the firing step is reached", not fired_at_first, str(len(fired_at_first)))
        for _ in range(n + 2):
            if step_text(p) == f"{n} / {n}":
                break
            p.click('[data-testid="race-next"]')
        check("races: stepping forward reaches the end", step_text(p) == f"{n} / {n}", step_text(p))
        boxes = p.d.execute_script("""return Array.from(document.querySelectorAll('[data-testid=race-box].fired')).map(g => ({
            det: g.dataset.detectors, stroke: getComputedStyle(g.querySelector('rect')).stroke}))""")
        red = [b for b in boxes if "D5" in b["det"].split() and b["stroke"].replace(" ", "") in ("rgb(209,26,26)",)]
        check("races: at the end the step that fired D5 is outlined in red", bool(red), str(boxes))
        check("races: the VMA strip and anon_vma forest show the state after the step",
              bool(p.tid("race-vma")) and bool(p.tid("race-forest")), f"{len(p.tid('race-vma'))} VMAs")
        p.shot("races-v3-no-26-d5")

    hz = setup_and_explore(p, "v3-patch")
    real = [h["detector"] for h in hz if h["detector"] not in LATENT]
    check("races [v3-patch]: S1 lists no hazard", not real and bool(p.tid("race-no-hazard") or hz), str(real))
    p.shot("races-v3-patch")

    p.click('[data-testid="race-compare-run"]')
    p.wait(lambda: p.tid("race-compare-table"), 900, "the model comparison")
    rows = p.d.execute_script("""return Array.from(document.querySelectorAll('[data-testid=race-compare-table] tbody tr')).map(r => ({
        kernel: r.dataset.kernel, fires: Array.from(r.querySelectorAll('td.fires')).map(c => c.dataset.detector)}))""")
    by = {r["kernel"]: set(r["fires"]) for r in rows}
    check("races: Compare models has a row per kernel of GET /v1/kernels", [r["kernel"] for r in rows] == ids, str([r["kernel"] for r in rows]))
    check("races: Compare models — D1 fires under v3-no-26, never under 6.18",
          "D1" in by.get("v3-no-26", set()) and not (by.get("6.18", set()) - LATENT), str(by))
    p.shot("races-compare")
    p.tab("space")
    return True
