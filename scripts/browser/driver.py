"""Headless Chromium (1280×800 viewport) driven through chromedriver."""

import os
import shutil

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


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
