"""Drive the web console in headless Chromium (run with .venv-browser's python, JSON on stdin).

Input: {"scenario": "browse" | "jobs" | "big" | "writes", "base": server URL, "shots": dir,
"width": px, "height": px, ...scenario arguments}. Output (last stdout line, JSON): what the
page showed, read from the DOM, plus "console" (every browser log entry, all frames) and
"shots" (screenshot paths). The test decides what is right; this script only looks and clicks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ng_driver import PANEL_JS, chrome, wait_ready
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DAG_JS = """
return [...document.querySelectorAll('.dag-scroll svg g.node')].map(g => ({
  uuid: g.dataset.uuid, branch: g.dataset.branch, locked: g.dataset.locked === 'true',
  leaf: g.dataset.leaf === 'true', text: g.textContent}));
"""

INSTANCES_JS = """
return [...document.querySelectorAll('tr.instance')].map(tr => {
  const img = tr.querySelector('.thumbbox img');
  const open = tr.querySelector('[data-action=open-neuroglancer]');
  return {name: tr.dataset.name, type: tr.dataset.type, levels: +tr.dataset.levels,
    chips: [...tr.querySelectorAll('.levels .chip')].map(c => c.textContent),
    extents: tr.querySelector('.extents').textContent,
    thumb: img ? {src: img.getAttribute('src'), w: img.naturalWidth, h: img.naturalHeight,
                  complete: img.complete, level: img.dataset.level} : null,
    thumbText: img ? null : tr.querySelector('.thumbbox').textContent,
    open: open ? {disabled: open.disabled, title: open.title} : null,
    cells: [...tr.children].map(td => td.textContent.trim())};
});
"""

JOBS_JS = """
return [...document.querySelectorAll('tr.job')].map(tr => {
  const p = tr.querySelector('.progress');
  return {id: tr.dataset.id, state: tr.dataset.state, done: +p.dataset.done, blocks: +p.dataset.blocks,
    pct: p.getAttribute('aria-valuenow'), label: p.textContent, errors: tr.querySelector('.errors-cell').textContent,
    errorItems: [...tr.querySelectorAll('details.errors li')].map(li => li.textContent)};
});
"""


def browser(args: dict, profile: str) -> webdriver.Chrome:
    width, height = args.get("width", 1280), args.get("height", 800)
    driver = chrome(args, profile, width, height)
    # the page's own size exactly (a laptop screen), whatever the window's frame takes
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


class Page:
    def __init__(self, driver: webdriver.Chrome, args: dict) -> None:
        self.d = driver
        self.shots_dir = Path(args["shots"])
        self.shots: dict[str, str] = {}
        self.console: list[dict] = []

    def wait(self, js: str, timeout: float = 30, what: str = "") -> object:
        """Poll a JS expression until it is truthy; returns its value."""
        end = time.monotonic() + timeout
        while True:
            v = self.d.execute_script(js)
            if v:
                return v
            if time.monotonic() > end:
                raise TimeoutError(f"timed out waiting for {what or js}")
            time.sleep(0.1)

    def click(self, css: str) -> None:
        """Click the element as a user would (scrolled into view); a view redrawn under the
        pointer (e.g. the DAG after a resize) is looked up again."""
        for attempt in range(5):
            WebDriverWait(self.d, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
            try:
                el = self.d.find_element(By.CSS_SELECTOR, css)
                self.d.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
                el.click()
                return
            except StaleElementReferenceException:
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def shot(self, name: str) -> str:
        path = self.shots_dir / f"{name}-{int(time.time() * 1000)}.png"
        self.d.save_screenshot(str(path))
        self.shots[name] = str(path)
        return str(path)

    def logs(self) -> None:
        self.console += [{"level": e.get("level"), "message": e.get("message")} for e in self.d.get_log("browser")]


def open_repo(p: Page, base: str, root: str, uuid: str | None = None) -> float:
    """From the overview, follow the repo's link (and a version row); returns ms until the DAG showed."""
    p.d.get(base + "/")
    p.wait(f"return document.querySelector('tr.repo-row[data-root=\"{root}\"]')", what="the repo row")
    t0 = time.monotonic()
    p.click(f'tr.repo-row[data-root="{root}"] a.repo-link')
    p.wait("return document.querySelectorAll('.dag-scroll svg g.node').length", what="the DAG")
    ms = (time.monotonic() - t0) * 1000
    if uuid:
        p.click(f'.dag-scroll svg rect.row[data-uuid="{uuid}"]')
        p.wait(f"return document.querySelector('.node-panel[data-uuid=\"{uuid}\"]')", what="the version panel")
    return ms


def wait_instances_loaded(p: Page, limit: int = 1000) -> None:
    """Scroll each instance row (the first ``limit``) into view (rows fetch their per-version info
    when seen) until it has its info, and its thumbnail has loaded or failed."""
    names = p.d.execute_script("return [...document.querySelectorAll('tr.instance')].map(tr => tr.dataset.name)")
    for name in names[:limit]:
        row = f'document.querySelector(`tr.instance[data-name="${{CSS.escape({json.dumps(name)})}}"]`)'
        p.d.execute_script(f"{row}.scrollIntoView({{block: 'center'}})")
        p.wait(f"""const tr = {row}; const i = tr.querySelector('.thumbbox img');
                   return tr.dataset.loaded === 'true' && (!i || i.complete);""", what=f"instance row {name}")
    p.d.execute_script("window.scrollTo(0, 0)")


def _viewer_shot(p: Page, frame, timeout: float, name: str, js: str = "") -> dict:
    """Inside the viewer's frame: run ``js``, wait until neuroglancer has drawn every visible chunk
    (its own ``display.isReady()``), then screenshot the page; the panel rect is in page pixels."""
    rect = p.d.execute_script("const r = arguments[0].getBoundingClientRect(); return {left: r.left, top: r.top};", frame)
    p.d.switch_to.frame(frame)
    if js:
        p.d.execute_script(js)
    ready = wait_ready(p.d, timeout)
    panel = p.d.execute_script(PANEL_JS)
    state = p.d.execute_script("return window.viewer ? JSON.stringify(window.viewer.state.toJSON()) : 'null'")
    p.d.switch_to.default_content()
    if panel:
        panel = dict(panel, left=panel["left"] + rect["left"], top=panel["top"] + rect["top"])
    p.shot(name)
    return {"ready": ready, "panel": panel, "state": json.loads(state), "shot": p.shots[name]}


def open_viewer(p: Page, name: str, timeout: float, zoom: float | None) -> dict:
    p.click(f'tr.instance[data-name="{name}"] [data-action=open-neuroglancer]')
    frame = p.d.find_element(By.CSS_SELECTOR, "iframe.viewer-frame")
    out = {"src": frame.get_attribute("src"),
           "title": p.d.find_element(By.CSS_SELECTOR, ".viewer-title").text,
           "preset": _viewer_shot(p, frame, timeout, "console-neuroglancer")}
    if zoom:
        js = f"const s = viewer.state.toJSON(); s.crossSectionScale = {zoom}; viewer.state.restoreState(s);"
        out["zoomed"] = _viewer_shot(p, frame, timeout, "console-neuroglancer-zoomed-out", js)
    return out


def scenario_browse(p: Page, a: dict) -> dict:
    p.d.get(a["base"] + "/")
    p.wait(f"return document.querySelector('tr.repo-row[data-root=\"{a['root']}\"]')", what="the repo row")
    p.wait("return document.querySelector('.load-item')", what="the load card")
    overview = p.d.execute_script("""return {server: document.querySelector('.server-card').textContent,
      stores: document.querySelector('.stores-card').textContent, load: document.querySelector('.load-card').textContent}""")
    p.shot("console-overview")
    open_repo(p, a["base"], a["root"])  # shows the leaf of master first
    wait_instances_loaded(p)
    p.shot("console-repo-leaf")
    p.click(f'.dag-scroll svg rect.row[data-uuid="{a["uuid"]}"]')
    p.wait(f"return document.querySelector('.node-panel[data-uuid=\"{a['uuid']}\"]')", what="the version panel")
    wait_instances_loaded(p)
    out = {"overview": overview, "dag": p.d.execute_script(DAG_JS), "instances": p.d.execute_script(INSTANCES_JS),
           "panel_text": p.d.find_element(By.CSS_SELECTOR, ".node-panel").text}
    p.shot("console-repo")
    out["viewer"] = open_viewer(p, a["instance"], a.get("timeout", 60), a.get("zoom"))
    p.click("[data-action=close-viewer]")
    p.d.get(a["base"] + "/#/help")
    p.wait("return document.querySelectorAll('tr.endpoint').length", what="the core API table")
    out["help_core"] = p.d.execute_script(
        "return [...document.querySelectorAll('tr.endpoint')].map(tr => [tr.dataset.method, tr.dataset.path])")
    out["help_types"] = p.d.execute_script("return [...document.querySelectorAll('.help-nav a[data-type]')].map(a => a.dataset.type)")
    p.click('.help-nav a[data-type="uint8blk"]')
    p.wait("return document.querySelector('pre.help-text')?.textContent.length > 200", what="the uint8blk help")
    out["help_uint8blk"] = p.d.find_element(By.CSS_SELECTOR, "pre.help-text").text
    return out


def scenario_jobs(p: Page, a: dict) -> dict:
    p.d.get(a["base"] + "/#/jobs")
    p.wait("return document.querySelector('.jobs-body')?.children.length", what="the jobs page")
    cli = subprocess.Popen(a["command"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples, seen, t0, shot_running = [], set(), time.monotonic(), False
    while time.monotonic() - t0 < a.get("timeout", 60):
        jobs = [j for j in p.d.execute_script(JOBS_JS) if j["id"] not in a.get("ignore", [])]
        if jobs:
            j = jobs[0]
            key = (j["state"], j["done"], j["blocks"])
            if key not in seen:
                seen.add(key)
                samples.append(dict(j, t=round(time.monotonic() - t0, 2)))
            if j["state"] == "running" and j["done"] > 0 and not shot_running:
                p.shot("console-jobs-running")
                shot_running = True
            if j["state"] != "running":
                break
        time.sleep(0.1)
    time.sleep(0.2)
    p.d.execute_script("document.querySelectorAll('details.errors').forEach(d => d.open = true)")
    p.shot("console-jobs-done")
    out, err = cli.communicate(timeout=60)
    return {"cli": {"code": cli.returncode, "out": out, "err": err}, "samples": samples,
            "final": p.d.execute_script(JOBS_JS)}


def scenario_big(p: Page, a: dict) -> dict:
    ms = open_repo(p, a["base"], a["root"])
    draw_ms = float(p.d.execute_script("return document.querySelector('.dag-scroll').dataset.drawMs"))
    dag = p.d.execute_script(DAG_JS)
    p.shot("console-big-repo")
    # the oldest version is at the bottom of the picture: scroll there and select it
    t0 = time.monotonic()
    p.click(f'.dag-scroll svg rect.row[data-uuid="{a["root"]}"]')
    p.wait(f"return document.querySelector('.node-panel[data-uuid=\"{a['root']}\"]')", what="the root's panel")
    select_ms = (time.monotonic() - t0) * 1000
    p.d.find_element(By.CSS_SELECTOR, ".dag-tools input").send_keys(a["find"])
    found = p.d.execute_script("return document.querySelectorAll('.dag-scroll g.node:not(.dim)').length")
    rows = p.d.execute_script("return document.querySelectorAll('tr.instance').length")
    wait_instances_loaded(p, limit=8)
    p.shot("console-big-instances")
    return {"open_ms": ms, "draw_ms": draw_ms, "select_ms": select_ms, "dag_nodes": len(dag), "found": found,
            "leaves": [d["uuid"] for d in dag if d["leaf"]],
            "instance_rows": rows, "svg_height": p.d.execute_script("return document.querySelector('svg.dag').height.baseVal.value")}


def write_buttons(p: Page) -> list[str]:
    return p.d.execute_script("return [...document.querySelectorAll('.write-actions [data-action]')].map(b => b.dataset.action)")


def submit_form(p: Page, action: str, values: dict) -> None:
    p.click(f'.write-actions [data-action="{action}"]')
    form = p.d.find_element(By.CSS_SELECTOR, ".action-form")
    for name, value in values.items():
        form.find_element(By.CSS_SELECTOR, f'[name="{name}"]').send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def scenario_writes(p: Page, a: dict) -> dict:
    out: dict = {}
    open_repo(p, a["base"], a["root"], a["uuid"])
    out["before"] = {"buttons": write_buttons(p), "mode": p.d.find_element(By.ID, "mode").text,
                     "note": p.d.execute_script("return document.querySelector('.no-writes')?.textContent || ''")}
    if a.get("token"):
        p.d.find_element(By.CSS_SELECTOR, ".admin-form input").send_keys(a["token"])
        p.d.find_element(By.CSS_SELECTOR, ".admin-form button").click()
        p.wait("return document.querySelector('.write-actions')", what="write actions after the token")
    out["after_token"] = {"buttons": write_buttons(p), "mode": p.d.find_element(By.ID, "mode").text}
    if "commit" not in out["after_token"]["buttons"]:
        return out
    submit_form(p, "commit", {"note": a["note"]})
    p.wait("return document.querySelector('.write-actions [data-action=newversion]')", what="the committed version")
    out["committed"] = p.d.execute_script(DAG_JS)
    submit_form(p, "newversion", {"note": "made in the console"})
    p.wait(f"return location.hash.split('/').length === 4 && !location.hash.endsWith('{a['uuid']}')", what="the new version")
    p.wait("return document.querySelector('.write-actions [data-action=commit]')", what="the new open version")
    out["child"] = p.d.execute_script("return location.hash.split('/')[3]")
    p.d.get(f"{a['base']}/#/repo/{a['root']}/{a['uuid']}")
    p.d.refresh()
    p.wait("return document.querySelector('.write-actions [data-action=branch]')", what="the branch button")
    submit_form(p, "branch", {"branch": a["branch"], "note": "a branch from the console"})
    p.wait(f"return [...document.querySelectorAll('.dag-scroll g.node')].some(g => g.dataset.branch === '{a['branch']}')",
           what="the new branch in the DAG")
    out["dag"] = p.d.execute_script(DAG_JS)
    p.shot("console-writes")
    return out


SCENARIOS = {"browse": scenario_browse, "jobs": scenario_jobs, "big": scenario_big, "writes": scenario_writes}


def main() -> None:
    args = json.loads(sys.stdin.read())
    Path(args["shots"]).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="console-chromium-") as profile:
        driver = browser(args, profile)
        page = Page(driver, args)
        try:
            try:
                out = SCENARIOS[args["scenario"]](page, args)
            except Exception as e:  # report what the page showed instead of a bare traceback
                page.shot("console-failure")
                out = {"error": f"{type(e).__name__}: {e}"}
            page.logs()
            out.update(console=page.console, shots=page.shots)
        finally:
            driver.quit()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
