"""The built site in headless Chromium: type in the home page's box, follow a result.

Served by http.server on 127.0.0.1 from a thread; the site is built offline
from the real index with a hand-written lock.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from generator import lock

REPO = Path(__file__).resolve().parent.parent
DIGEST = "sha256:" + "0123456789abcdef" * 4
REF = "127.0.0.1:5000/ebpfhub/opensnoop:0.1.0"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    lock.write(tmp / "lock.json",
               {"opensnoop": {"0.1.0": lock.Locked(REF, DIGEST, "2025-01-02T03:04:05Z")}})
    out = tmp / "site"
    done = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--index", str(REPO / "index"),
         "--offline", "--lock", str(tmp / "lock.json"), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_search_from_home_page_reaches_package_with_full_digest(site_url: str, browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(site_url)
    box = page.locator("input.hub-search-input")
    box.click()
    box.press_sequentially("open", delay=30)
    result = page.locator("ol.hub-results a.hub-result", has_text="opensnoop")
    result.wait_for(timeout=10_000)
    assert "Trace open() system calls" in page.locator("ol.hub-results").inner_text()
    result.click()
    page.wait_for_url("**/packages/opensnoop/")
    assert page.locator("h1").inner_text() == "opensnoop"
    digest = page.locator("code.hub-digest").first
    assert digest.inner_text() == DIGEST
    assert digest.is_visible()
    assert errors == []
    page.close()


def test_search_page_reads_the_query_and_answers_every_keystroke(site_url: str, browser):
    page = browser.new_page()
    page.goto(site_url + "search/?q=sysc")
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=10_000)
    assert page.locator("#hub-search-status").inner_text() == "1 package matches."
    box = page.locator("input.hub-search-input")
    box.fill("")
    box.press_sequentially("xdp", delay=20)
    page.locator("#hub-search-status", has_text="No package matches").wait_for(timeout=5_000)
    assert page.locator("ol.hub-results li").count() == 0
    assert page.url.endswith("?q=xdp")
    box.fill("open file")  # every word must match, by stem or prefix
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=5_000)
    page.close()


def test_enter_in_home_box_opens_the_search_page(site_url: str, browser):
    page = browser.new_page()
    page.goto(site_url)
    box = page.locator("input.hub-search-input")
    box.fill("trace")
    box.press("Enter")
    page.wait_for_url("**/search/?q=trace")
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=10_000)
    page.close()
