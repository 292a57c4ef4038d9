"""The libc loading scenario under one kernel model: the strip, the VMA
table, anon_vma badges, the data-write fault path, the timeline snapshot,
the fault panel and the anon_vma forest."""

from selenium.webdriver.support.ui import Select

from .results import check


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
