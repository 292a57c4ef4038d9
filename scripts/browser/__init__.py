"""Helpers of scripts/browser_test.py, the browser test of the visualizer
(public/) against a real mmsim server: results (check and the tally), server
(start mmsim, plain HTTP calls), driver (headless Chromium through Selenium),
page (the Page object: waits, clicks, reading the strip and the fault view),
libc and scenarios (the checks, grouped by what they exercise).

Importing the package installs selenium with pip if it is missing.
"""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "test-output")
SHOTS = os.path.join(OUT, "screenshots")

try:
    import selenium  # noqa: F401
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "selenium"])
