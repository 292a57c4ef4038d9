"""Helpers of scripts/browser_test.py, the browser test of the visualizer
(public/) against a real mmsim server: results (check and the tally), server
(start mmsim, plain HTTP calls), driver (headless Chromium through Selenium),
page (the Page object: waits, clicks, reading the strip and the fault view),
libc and scenarios (the checks, grouped by what they exercise).

Installs nothing: without selenium for this interpreter it exits, naming
the package that provides it (Debian's python3-selenium, for /usr/bin/python3;
scripts/test.sh picks the interpreter that has it).
"""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "test-output")
SHOTS = os.path.join(OUT, "screenshots")

try:
    import selenium  # noqa: F401
except ImportError:
    sys.exit("browser test: selenium is not installed for %s (apt-get install -y python3-selenium, "
             "then run this test with /usr/bin/python3)" % sys.executable)
