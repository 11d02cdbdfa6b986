"""``diga-assets ui``: the simulator and ``dagster dev`` together, on loopback, as a user starts
them after the demo; what the UI shows (through its GraphQL API and in headless Chromium); the
report opened in the same browser; and Ctrl-C stopping both.

The tests in this module share one UI process (starting it takes a while) and run in file order:
the last one presses Ctrl-C. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests

from diga_assets.demo import DemoResult
from diga_assets_tests.demo_data import DemoRun
from diga_assets_tests.test_definitions import PUBLIC_ASSET_GROUPS
from diga_assets_tests.webserver import free_loopback_port, graphql, port_open

# The UI family: diga-assets ui over the demo's data, and Debian's Chromium (make test-fast skips it).
pytestmark = pytest.mark.browser

BIN = Path(sys.executable).parent
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ASSETS = PUBLIC_ASSET_GROUPS
STARTUP_TIMEOUT_S = 150


@dataclass
class RunningUi:
    url: str
    process: subprocess.Popen[str]
    demo: DemoResult
    log: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return graphql(self.url, query, variables)


@pytest.fixture(scope="module")
def ui(tmp_path_factory, demo_run: DemoRun) -> Iterator[RunningUi]:
    """``diga-assets ui`` over a copy of the demo's data and DAGSTER_HOME (the session's demo
    run, shared with the demo's tests: the UI records in its home), in a session of its own."""
    root = tmp_path_factory.mktemp("ui")
    for folder in ("data", "home"):
        shutil.copytree(demo_run.root / folder, root / folder)
    demo = replace(
        demo_run.result,
        data_dir=str(root / "data"),
        report=str(root / demo_run.result.report.removeprefix(str(demo_run.root) + "/")),
    )
    port = free_loopback_port()
    log = root / "ui.log"
    env = {**os.environ, "DIGA_DATA_DIR": str(root / "data"), "PYTHONUNBUFFERED": "1"}
    env.pop("DIGA_API_KEY", None)
    command = [str(BIN / "diga-assets"), "ui", f"--port={port}", f"--dagster-home={root / 'home'}"]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
    running = RunningUi(f"http://127.0.0.1:{port}", process, demo, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, f"diga-assets ui exited early:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"the UI did not answer in {STARTUP_TIMEOUT_S}s:\n{log.read_text()}"
            try:
                if (
                    requests.get(f"{running.url}/server_info", timeout=2).ok
                    and running.graphql("{ assetNodes { id } }")["assetNodes"]
                ):
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_the_ui_shows_every_asset_in_its_group_with_kinds_owners_descriptions_and_checks(ui):
    nodes = ui.graphql(
        """{ assetNodes { assetKey { path } groupName kinds description owners { ... on TeamAssetOwner { team } }
             assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"""
    )["assetNodes"]
    by_name = {"/".join(n["assetKey"]["path"]): n for n in nodes}

    assert {name: node["groupName"] for name, node in by_name.items()} == ASSETS
    assert all(node["description"] and node["owners"] == [{"team": "analytics"}] for node in nodes)
    assert "parquet" in by_name["diga_calls"]["kinds"] and "duckdb" in by_name["call_outcome_rates"]["kinds"]
    checks = {c["name"]: c["blocking"] for c in by_name["diga_calls"]["assetChecksOrError"]["checks"]}
    assert checks["call_ids_unique"] is True and "enum_values_within_spec" in checks


def test_the_ui_lists_the_daily_schedules_and_never_shows_the_key(ui):
    [repository] = ui.graphql(
        "{ repositoriesOrError { ... on RepositoryConnection {"
        " nodes { name location { name } schedules { name } sensors { name } } } } }"
    )["repositoriesOrError"]["nodes"]
    assert {s["name"] for s in repository["schedules"]} == {
        "diga_calls_daily",
        "diga_phones_daily",
        "diga_calls_intraday",
        "diga_call_day_audit_daily",
    }
    assert {s["name"] for s in repository["sensors"]} == {"diga_transcripts_daily", "diga_refetch_changed_days"}

    details = ui.graphql(
        """query ($selector: ResourceSelector!) { topLevelResourceDetailsOrError(resourceSelector: $selector) {
             ... on ResourceDetails { configuredValues { key value type } } } }""",
        {
            "selector": {
                "repositoryName": repository["name"],
                "repositoryLocationName": repository["location"]["name"],
                "resourceName": "diga",
            }
        },
    )["topLevelResourceDetailsOrError"]
    values = {v["key"]: v for v in details["configuredValues"]}
    assert values["api_key"] == {"key": "api_key", "value": "DIGA_API_KEY", "type": "ENV_VAR"}
    # The simulator's key is made up per run ("sim-" + hex); no configured value may hold one.
    assert not any(v["value"].startswith('"sim-') or v["value"].startswith("sim-") for v in values.values())
    assert "sim-" not in ui.log.read_text().replace("sim-test", "")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's headless Chromium through its chromedriver; `.ci/run` installs both."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        if os.environ.get("DIGA_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are required (apt-get install chromium chromium-driver)")
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver); CI installs it")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # The machine has no network beyond loopback: without these flags Chromium keeps dialling out.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1600,1000",
        # Left to itself, Chromium makes its profile in /tmp and leaves it there after quitting.
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, condition: Any, what: str, timeout: float = 60) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5).until(condition)
    except TimeoutException:
        driver.save_screenshot(str(ARTIFACTS / "timeout.png"))
        raise AssertionError(f"timed out waiting for {what}; screenshot in test-artifacts/timeout.png") from None


def dismiss_welcome(driver: Any) -> None:
    """Close Dagster's first-visit community dialog if it is open (it covers the page)."""
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        button.click()
    wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, ".bp5-overlay-backdrop"), "the dialog to close")


def click(driver: Any, element: Any) -> None:
    """Click ``element``; the community dialog may open at any time after load and take the click."""
    from selenium.common.exceptions import ElementClickInterceptedException

    for _ in range(3):
        try:
            element.click()
            return
        except ElementClickInterceptedException:
            dismiss_welcome(driver)
    element.click()


@pytest.mark.parametrize("group", ["diga_raw", "diga_curated", "diga_metrics"])
def test_each_group_lists_its_assets_and_draws_its_graph_in_chromium(ui, browser, group):
    [location] = ui.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")[
        "workspaceOrError"
    ]["locationEntries"]
    group_url = f"{ui.url}/locations/{location['name']}/asset-groups/{group}"
    members = [name for name, in_group in ASSETS.items() if in_group == group]

    # The list names every asset; the graph draws only the nodes in view, which at its opening
    # zoom is not all of a seven-asset group.
    browser.get(f"{group_url}/list")
    wait_for(browser, lambda d: all(name in d.page_source for name in members), f"every asset of {group} listed")
    browser.get(group_url)
    wait_for(browser, lambda d: any(name in d.page_source for name in members), f"the graph of {group}")
    browser.save_screenshot(str(ARTIFACTS / f"asset-graph-{group}.png"))


def test_the_report_asset_page_shows_the_headline_chart_inline(ui, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{ui.url}/assets/call_report")
    # Dagster lists markdown metadata as a "[Show Markdown]" link that opens it rendered.
    show = wait_for(
        browser,
        # The innermost element with the text: the link itself, not the cell around it.
        lambda d: (
            d.find_elements(
                By.XPATH, "//tr[td[contains(., 'headline_chart')]]//*[text()[contains(., 'Show Markdown')]]"
            )
            or [None]
        )[-1],
        "the headline_chart metadata row",
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", show)
    click(browser, show)

    image = wait_for(
        browser,
        lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, "img[src^='data:image/png;base64,']")), None),
        "the headline chart as an inline image",
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", image)
    wait_for(browser, lambda d: image.get_property("naturalWidth") > 0, "the inline image to decode")
    browser.save_screenshot(str(ARTIFACTS / "call-report-asset.png"))


def test_the_report_file_renders_every_chart_offline_in_chromium(ui, browser):
    from selenium.webdriver.common.by import By

    browser.get(Path(ui.demo.report).resolve().as_uri())

    sections = browser.find_elements(By.CSS_SELECTOR, "section.chart")
    titles = [s.find_element(By.TAG_NAME, "h2").text for s in sections]
    assert titles == [
        "Daily call volume by outcome",
        "Completion rate over time",
        "Median and p90 duration over time",
        "Outcomes by agent version",
        "Load by weekday and hour",
        "Repeat callers",
        "Phone assignments",
    ]
    for section in sections:
        chart = section.find_element(By.TAG_NAME, "svg")
        assert chart.size["width"] > 300 and chart.size["height"] > 100, section.get_attribute("id")
        assert section.find_elements(By.CSS_SELECTOR, "svg text"), "chart texts are real text"
    # Offline: the page loaded nothing but itself.
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources == []
    browser.save_screenshot(str(ARTIFACTS / "call-report.png"))


def test_ctrl_c_stops_the_ui_and_the_simulator(ui):
    simulator_url = next(
        line.split(" on ", 1)[1].split(";")[0] for line in ui.log.read_text().splitlines() if "simulator on" in line
    )
    simulator_port = int(simulator_url.rsplit(":", 1)[1])
    ui_port = int(ui.url.rsplit(":", 1)[1])
    assert port_open(simulator_port) and port_open(ui_port)

    os.killpg(ui.process.pid, signal.SIGINT)  # what Ctrl-C in its terminal does

    assert ui.process.wait(timeout=90) == 0, ui.log.read_text()[-3000:]
    assert not port_open(simulator_port) and not port_open(ui_port)
    # dagster dev's own children (webserver, daemon, code server) finish their shutdown just
    # after it returns: nothing of the session may be left shortly after.
    deadline = time.monotonic() + 30
    while session_alive(ui.process.pid):
        assert time.monotonic() < deadline, "processes of the UI session are still running 30s after Ctrl-C"
        time.sleep(0.5)


def session_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
