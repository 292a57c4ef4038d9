"""The sessions this browser holds: GET /v1/sessions lists only the ids the
caller presents (?ids=), so the page remembers the sessions it created or
opened (localStorage), lists those the server still has under "Yours",
forgets the ones it no longer knows, and a #session= link opens any session."""

import time

from .results import check
from .server import http

GONE = "0000gone-session0000"  # opened by link to see it is not remembered (the page's 404 is expected)


def remembered(p):
    return p.d.execute_script("return JSON.parse(localStorage.getItem('mmsim.sessions') || '[]')")


def listed(p):
    """The ids "Yours" offers (the placeholder option has none)."""
    return p.d.execute_script(
        "return Array.from(document.querySelectorAll('[data-testid=session-recent] option')).map(o => o.value).filter(Boolean)")


def current(p):
    return p.d.execute_script("return new URLSearchParams(location.hash.slice(1)).get('session')")


def load(p, url):
    p.d.get(url)
    p.wait(lambda: p.d.execute_script("return document.body.dataset.ready") == "true", 30, "the page to load")
    p.idle()


def session_list_check(p, base):
    p.d.execute_script("localStorage.clear()")
    load(p, base)
    check("sessions: a browser that made none lists none", listed(p) == [] and "none yet" in p.one('[data-testid="session-recent"]').text,
          str(listed(p)))
    p.new_session("6.4")
    a = current(p)
    p.new_session("6.18")
    b = current(p)
    st, other = http(base, "POST", "/v1/sessions", {"kernel": "6.4"})  # someone else's: the page never saw its id
    check("sessions: the page remembers the ids it created, newest first", remembered(p)[:2] == [b, a], f"{remembered(p)} vs {[b, a]}")
    load(p, base)
    got = listed(p)
    check("sessions: after a reload, Yours lists the two sessions made here, newest first, and not another client's",
          got == [b, a] and other["id"] not in got, f"{got} vs {[b, a]} (other {other['id']})")
    texts = p.d.execute_script("return Array.from(document.querySelectorAll('[data-testid=session-recent-item]')).map(o => o.textContent)")
    check("sessions: each entry names its kernel model and id", texts and texts[0].startswith("6.18") and b[:8] in texts[0]
          and texts[1].startswith("6.4") and a[:8] in texts[1], str(texts))

    http(base, "DELETE", f"/v1/sessions/{a}")
    p.one('[data-testid="open-id"]').click()  # focusing the id field asks the server again
    p.eventually(lambda: listed(p), lambda l: a not in l)
    check("sessions: a session the server no longer has is dropped from the list and from localStorage",
          listed(p) == [b] and a not in remembered(p), f"{listed(p)} / {remembered(p)}")
    p.shot("sessions-yours")

    p.d.execute_script("const s = document.querySelector('[data-testid=session-recent]'); s.value = arguments[0];"
                       "s.dispatchEvent(new Event('change'))", b)
    p.wait(lambda: current(p) == b, what="the session picked in Yours")
    p.idle()
    kernel = p.one('[data-testid="session-kernel"]').text
    check("sessions: picking an entry of Yours opens that session", kernel == "6.18", kernel)

    load(p, base + f"#session={other['id']}")
    kernel = p.one('[data-testid="session-kernel"]').text
    check("sessions: a #session= link opens a session this browser did not create", st == 201 and current(p) == other["id"]
          and kernel == "6.4", f"{current(p)} {kernel}")
    check("sessions: a session opened by link is remembered too", remembered(p)[:1] == [other["id"]] and other["id"] in listed(p),
          f"{remembered(p)} / {listed(p)}")

    load(p, base + f"#session={GONE}")
    p.wait(lambda: p.one('[data-testid="error"]').is_displayed(), what="the error banner for an unknown session")
    time.sleep(0.3)
    check("sessions: a link to an unknown session shows the error and is not remembered", GONE not in remembered(p)
          and GONE not in listed(p), str(remembered(p)))
    p.d.execute_script("document.getElementById('error-close').click()")
    # the deliberate 404 above is logged by Chromium as a failed load; it is not an error of the page
    p.logs()
    p.console[:] = [l for l in p.console if GONE not in l.get("message", "")]
