"""Locust as a new user meets it: the picker's first ticks, CSV files that agree, charts in the tab.

The browser tests drive Debian's chromium through selenium and skip, saying
why, where either is missing (``apt-get install chromium chromium-driver``).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from common.process_tree import stop_tree
from loadtests.launch import ALL_CLASSES, LocustRun, default_classes
from servers.launcher import ServerProcess
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str, data: dict[str, Any] | None = None) -> str:
    body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
    with urllib.request.urlopen(url, data=body, timeout=5) as resp:
        return resp.read().decode()


def web_ui_page(url: str) -> str | None:
    try:
        return fetch(url)
    except OSError:
        return None


@pytest.fixture
def web_ui(tmp_path: Path) -> Iterator[Callable[[str, str], str]]:
    """Factory: ``web_ui(host, protocol)`` starts Locust's web UI as ``iomodels locust`` does; its URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(host: str, protocol: str) -> str:
        port = free_port()
        spec = LocustRun(
            host=host,
            classes=default_classes(protocol),
            headless=False,
            users=2,
            spawn_rate=2,
            web_port=port,
            extra=["--server-stats-interval", "0.5"],
        )
        log = open(tmp_path / f"locust-{port}.log", "wb")  # noqa: SIM115 (closed with the test)
        proc = subprocess.Popen(spec.command(), stdout=log, stderr=log, cwd=ROOT)
        started.append(proc)
        url = f"http://127.0.0.1:{port}/"
        wait_until(lambda: proc.poll() is not None or web_ui_page(url), timeout=60)
        assert proc.poll() is None, (tmp_path / f"locust-{port}.log").read_text()
        return url

    yield start
    for proc in started:
        stop_tree(proc, grace=15)


def template_args(page: str) -> dict[str, Any]:
    """The arguments Locust renders its web UI from (``window.templateArgs``)."""
    found = re.search(r"window\.templateArgs = (\{.*?\})\s*\n", page, re.S)
    assert found, page[:2000]
    return json.loads(found.group(1))


# -- the class picker ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("protocol", "host"), [("http", "http://127.0.0.1:9"), ("echo", "echo://127.0.0.1:9")]
)
def test_the_picker_ticks_the_protocols_class_and_offers_the_others(
    web_ui: Callable[[str, str], str], protocol: str, host: str
) -> None:
    page = fetch(web_ui(host, protocol))
    args = template_args(page)
    assert args["show_userclass_picker"] is True
    # every class is offered (and "select all" selects them all); the script unticks the others
    assert sorted(args["available_user_classes"]) == sorted(ALL_CLASSES)
    assert sorted(args["users"]) == sorted(ALL_CLASSES)
    assert f"const keep = new Set({json.dumps(default_classes(protocol))})" in page


# -- the final CSV ----------------------------------------------------------------------------
def test_the_csv_counts_what_stats_json_counts(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("asyncio")
    spec = LocustRun(
        host=server.url,
        classes=["HelloUser"],
        users=3,
        spawn_rate=3,
        run_time="2s",
        out_dir=tmp_path,
        extra=["--think-ms", "5"],
    )
    proc = subprocess.run(spec.command(), capture_output=True, text=True, timeout=90, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    entries = json.loads((tmp_path / "stats.json").read_text())
    with open(tmp_path / "locust_stats.csv", newline="") as file:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}
    total = sum(entry["num_requests"] for entry in entries)
    assert total > 0
    assert int(rows[("", "Aggregated")]["Request Count"]) == total
    for entry in entries:
        assert int(rows[(entry["method"], entry["name"])]["Request Count"]) == entry["num_requests"]
    with open(tmp_path / "locust_stats_history.csv", newline="") as file:
        history = [row for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    assert int(history[-1]["Total Request Count"]) == total


# -- in a real browser ----------------------------------------------------------------------------
@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless chromium through selenium (skipped, with the reason, where either is missing)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip(
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def picker_ticks(driver: Any) -> dict[str, bool]:
    """Each user class row of the picker -> whether its box is ticked."""
    ticks = {}
    for row in driver.find_elements("css selector", "tr"):
        cells = row.find_elements("css selector", "td")
        boxes = row.find_elements("css selector", "input[type=checkbox]")
        if len(cells) >= 2 and boxes and cells[1].text in ALL_CLASSES:
            ticks[cells[1].text] = boxes[0].is_selected()
    return ticks


def test_the_browser_shows_only_websiteuser_ticked(
    web_ui: Callable[[str, str], str], browser: Any
) -> None:
    browser.get(web_ui("http://127.0.0.1:9", "http"))
    ticks = wait_until(
        lambda: (t := picker_ticks(browser)) and len(t) == len(ALL_CLASSES) and t, 30
    )
    assert ticks == {name: name == "WebsiteUser" for name in ALL_CLASSES}
    # the select-all box says "some" (1 of 5), not "all", and selects every class
    select_all = browser.find_element("css selector", "thead input[type=checkbox]")
    assert not select_all.is_selected()
    assert select_all.get_attribute("data-indeterminate") == "true"
    select_all.click()
    ticks = wait_until(lambda: (t := picker_ticks(browser)) and all(t.values()) and t, 10)
    assert ticks == dict.fromkeys(ALL_CLASSES, True)


def test_the_server_tab_draws_its_charts_live(
    web_ui: Callable[[str, str], str],
    browser: Any,
    start_server: Callable[..., ServerProcess],
    tmp_path: Path,
) -> None:
    server = start_server("asyncio")
    url = web_ui(server.url, "http")
    # a light swarm: two users, a think time between requests
    answer = fetch(
        url + "swarm",
        {
            "user_count": 2,
            "spawn_rate": 2,
            "host": server.url,
            "user_classes": ["HelloUser"],
            "think_ms": 20,
        },
    )
    assert json.loads(answer)["success"], answer
    browser.get(url + "?tab=iomodels")

    def lines() -> list[str]:
        """The points of every line drawn in the tab (read in one go: the box is refilled live)."""
        return browser.execute_script(
            "return [...document.querySelectorAll('#iomodels-charts svg polyline')]"
            ".map((line) => line.getAttribute('points'))"
        )

    # four charts with two lines each (the server's figure and Locust's users or CPU)
    wait_until(lambda: len(lines()) >= 8, timeout=30)
    first = lines()
    wait_until(lambda: lines() != first, timeout=30)  # redrawn as samples come in
    titles = browser.execute_script("return document.getElementById('iomodels-charts').textContent")
    for title in ("CPU, % of one core", "Requests/s", "Open connections", "Server RSS"):
        assert title in titles
    # the tab's table is still there, right below the charts
    below = browser.execute_script(
        "return document.getElementById('iomodels-charts').nextElementSibling.textContent"
    )
    assert below.startswith("Figure")
    browser.save_screenshot(str(tmp_path / "server-tab.png"))
    if os.environ.get("IOMODELS_SCREENSHOT"):
        shutil.copy(tmp_path / "server-tab.png", os.environ["IOMODELS_SCREENSHOT"])
    fetch(url + "stop", {})
