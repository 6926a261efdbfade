"""Drive neuroglancer in headless Chromium (run with .venv-browser's python, JSON on stdin).

Input:  {"url": viewer URL with state, "screenshot": path, "timeout": s, "width": px, "height": px}
Output (last stdout line, JSON): {"ready": bool, "panel": {left, top, width, height},
"dpr": float, "console": [{"level", "message"}], "title": str}

Readiness is neuroglancer's own `viewer.display.isReady()` (all visible chunks loaded), which
the screenshot waits for; the console log includes messages from the chunk worker.
"""

import json
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--force-device-scale-factor=1",
]

READY_JS = """
const v = window.viewer;
if (!v || !v.display) return false;
try { return v.display.isReady(); } catch (e) { return false; }
"""

PANEL_JS = """
const p = document.querySelector('.neuroglancer-rendered-data-panel');
if (!p) return null;
const r = p.getBoundingClientRect();
return {left: r.left, top: r.top, width: r.width, height: r.height, dpr: window.devicePixelRatio};
"""


def chrome(args: dict, profile: str, width: int, height: int) -> webdriver.Chrome:
    """Headless Chromium through /usr/bin/chromedriver, logging every console message."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = args.get("chromium", "/usr/bin/chromium")
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.add_argument(f"--window-size={width},{height}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(args.get("chromedriver", "/usr/bin/chromedriver")))
    driver.set_page_load_timeout(60)
    return driver


def wait_ready(driver: webdriver.Chrome, timeout: float) -> bool:
    """Until neuroglancer has drawn every visible chunk (its own ``display.isReady()``) for a full
    second, and not before the viewer had time to start fetching; then one more frame."""
    ready_streak, started = 0, time.monotonic()
    while time.monotonic() - started < timeout:
        ready_streak = ready_streak + 1 if driver.execute_script(READY_JS) else 0
        if ready_streak >= 4 and time.monotonic() - started > 2:
            break
        time.sleep(0.25)
    time.sleep(0.5)
    return ready_streak >= 4


def main():
    args = json.loads(sys.stdin.read())
    with tempfile.TemporaryDirectory(prefix="ng-chromium-") as profile:
        driver = chrome(args, profile, args.get("width", 800), args.get("height", 600))
        try:
            driver.get(args["url"])
            ready = wait_ready(driver, float(args.get("timeout", 60)))
            panel = driver.execute_script(PANEL_JS)
            driver.save_screenshot(args["screenshot"])
            console = [{"level": e.get("level"), "message": e.get("message")} for e in driver.get_log("browser")]
            out = {"ready": ready, "panel": panel, "console": console, "title": driver.title}
        finally:
            driver.quit()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
