"""The dashboard in a real headless Chromium under a running ``stateline up``.

Chromium and chromedriver come from the system (Debian's ``chromium`` and
``chromium-driver``; .ci/run installs them); Selenium is given both paths, so
selenium-manager never runs and nothing is downloaded. The test loads the page
with the token ``up`` printed, finds every process and every Redis node the
supervisor reports, kills an instance with the page's own button and watches
its row come back with a new pid, starts a short load from the page and
watches its progress bar fill and its chart receive points, and reads
Chrome's performance log to check that every request the page made went to
loopback. A screenshot is kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from stateline.local.control import ControlClient, ControlError
from stateline.local.procs import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = [
    pytest.mark.slow, pytest.mark.timeout(300),
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs the system's chromium and chromium-driver (apt)"),
]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``predicate``; the timeout is a hang guard, never the thing tested."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if result := predicate():
                return result
        except (ControlError, httpx.HTTPError) as exc:
            last = exc
        except Exception as exc:  # a stale element while the page re-renders
            if type(exc).__name__ != "StaleElementReferenceException":
                raise
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last})")


class Up:
    def __init__(self, root: Path) -> None:
        self.data_dir = root / "data"
        self.port, self.ui_port = free_port(), free_port()
        self.log = root / "up.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATELINE_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stateline", "up", "--port", str(self.port),
                 "--apps", "2", "--ui-port", str(self.ui_port),
                 "--data-dir", str(self.data_dir)],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)

    def status(self) -> dict[str, Any]:
        return ControlClient(self.data_dir, timeout=30).call({"cmd": "status"})

    def dashboard_url(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"stateline up exited:\n{self.log.read_text()}")
        m = re.search(r"dashboard (http://127\.0\.0\.1:\d+/\?token=\S+)", self.log.read_text())
        if m is None or not all(p["state"] == "up" for p in self.status()["processes"]):
            return None
        return m.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    u = Up(tmp_path_factory.mktemp("dashboard"))
    try:
        yield u
    finally:
        u.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,2000", "--no-first-run", "--disable-extensions",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    try:
        yield driver
    finally:
        driver.quit()


def rows(driver: Any, attr: str) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    return {e.get_attribute(attr): e for e in driver.find_elements(By.CSS_SELECTOR, f"[{attr}]")
            if e.tag_name == "tr"}


def requested_urls(driver: Any) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def keep_screenshot(driver: Any, tmp_path: Path) -> Path:
    shot = tmp_path / "dashboard.png"
    driver.execute_script("window.scrollTo(0, 0)")  # a click scrolled its button into view
    driver.save_screenshot(str(shot))
    if artifacts := os.environ.get("STATELINE_ARTIFACTS"):
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artifacts) / "dashboard.png")
    return shot


def test_dashboard_in_chromium(up: Up, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    url = wait_for(up.dashboard_url, 120, "stateline up and its dashboard")
    requested_urls(browser)  # drain what the blank start page did: only the dashboard's count
    browser.get(url)
    processes = up.status()["processes"]
    ids = {p["id"] for p in processes}
    redis_ids = {p["id"] for p in processes if p["role"].startswith("redis")}
    assert {"gateway", "app-1", "app-2"} <= ids and len(redis_ids) == 6

    # Every process and every Redis node, the nodes with their cluster role.
    wait_for(lambda: set(rows(browser, "data-id")) >= ids, 60, f"rows for {sorted(ids)}")
    wait_for(lambda: {k for k, e in rows(browser, "data-redis").items()
                      if e.get_attribute("data-role") in ("master", "replica")} == redis_ids,
             60, "all six Redis nodes with their roles")
    assert browser.find_element(By.ID, "mode").text == "controls on"
    # The instances table's header and rows keep in step (p50/p99 per instance added).
    # Read in one go, retried when a re-render replaces the row between the lookups.
    def table_in_step() -> bool:
        heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR,
                                                         "#processes thead th")]
        app_row = rows(browser, "data-id")["app-1"]
        return (heads[-3:-1] == ["p50 ms", "p99 ms"]
                and len(app_row.find_elements(By.TAG_NAME, "td")) == len(heads)
                and bool(app_row.find_elements(By.CSS_SELECTOR, '[data-col="p99"]')))
    wait_for(table_in_step, 30, "a p50/p99 header and an app-1 row with a cell per column")
    assert "token=" not in browser.current_url  # taken out of the address bar

    # Kill app-1 with the page's button; its row comes back up with a new pid.
    old_pid = next(p["pid"] for p in processes if p["id"] == "app-1")
    browser.find_element(By.CSS_SELECTOR, '[data-kill="app-1"]').click()
    wait_for(lambda: any("kill app-1" in li.text
                         for li in browser.find_elements(By.CSS_SELECTOR, "#events li")),
             30, "the kill in the page's events")

    def back_up() -> bool:
        row = rows(browser, "data-id")["app-1"]
        pid = row.find_elements(By.TAG_NAME, "td")[2].text
        return row.get_attribute("data-state") == "up" and pid not in ("–", str(old_pid))
    wait_for(back_up, 90, "app-1 back up with a new pid")
    assert next(p for p in up.status()["processes"] if p["id"] == "app-1")["pid"] != old_pid

    # A load started from the page: its progress bar fills and its chart receives points.
    for field, value in (("load-rate", "20"), ("load-seconds", "6")):
        box = browser.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)
    browser.find_element(By.ID, "load-go").click()
    wait_for(lambda: browser.find_element(By.ID, "run-box").get_attribute("data-state")
             == "done", 120, "the load started from the page to finish")
    def chart_has_points() -> bool:
        chart = browser.find_element(By.ID, "run-chart")
        return (int(chart.get_attribute("data-points")) >= 3
                and float(chart.get_attribute("data-max-rps")) > 0)
    wait_for(chart_has_points, 30, "the run's chart to hold points with requests in them")
    assert re.match(r"[\d,]+ requests, [\d,]+ failed",
                    browser.find_element(By.ID, "run-result").text)
    assert browser.find_element(By.ID, "run-progress").get_attribute("value") == "1"

    shot = keep_screenshot(browser, tmp_path)
    assert shot.stat().st_size > 10_000

    # Nothing off loopback: every request the page made went to 127.0.0.1.
    urls = requested_urls(browser)
    assert any(u.endswith("/api/events") for u in urls), urls
    off = [u for u in urls if urlsplit(u).scheme not in ("data", "blob")
           and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]
    assert off == []


def test_the_page_is_read_only_without_the_token(up: Up, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    wait_for(up.dashboard_url, 120, "stateline up and its dashboard")
    browser.execute_script("sessionStorage.clear()")
    browser.get(f"http://127.0.0.1:{up.ui_port}/")
    wait_for(lambda: "app-1" in rows(browser, "data-id"), 60, "the rows without a token")
    assert browser.find_element(By.ID, "mode").text == "read-only (no token)"
    assert browser.find_elements(By.CSS_SELECTOR, "[data-kill]") == []
    r = httpx.post(f"http://127.0.0.1:{up.ui_port}/api/control",
                   json={"cmd": "kill", "id": "app-1"}, timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_token"
