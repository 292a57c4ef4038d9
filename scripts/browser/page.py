"""The visualizer page as the checks see it: waits that report the page's
error banner, clicks, screenshots, the console log, and readers for the
strip, the scenarios and the fault view."""

import os
import time

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from . import SHOTS


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
