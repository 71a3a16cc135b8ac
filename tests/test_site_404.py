"""The 404 page at any depth, in headless Chromium, served the way GitHub Pages serves it.

A static host answers every missing path with the site's 404.html, whatever the
depth of the path: /nope, /packages/nope/deeper/. Its links must therefore be
root-absolute, from the path of the site's URL (`--site-url`). The site is
built for https://owner.github.io/hub/ and served under /hub/ by generator/serve.py,
which answers unknown paths with 404.html and status 404, like Pages does (and
is what `make serve` runs).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_site_browser import DIGEST, REF, browser, build  # noqa: F401  (a fixture)

from generator import lock, serve
from generator.__main__ import main

from index_fixtures import opensnoop_only_index, serving

PREFIX = "/hub/"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site_lock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lock") / "lock.json"
    lock.write(path, {"opensnoop": {"0.1.0": lock.Locked(REF, DIGEST, "2025-01-02T03:04:05Z")}})
    return path


@pytest.fixture(scope="module")
def pages_url(tmp_path_factory: pytest.TempPathFactory, site_lock: Path) -> Iterator[str]:
    out = build(opensnoop_only_index(), tmp_path_factory.mktemp("pages") / "site",
                "--lock", str(site_lock), "--site-url", "https://owner.github.io/hub/")
    with serving(serve.server(out, 0, prefix=PREFIX)) as url:
        yield url + PREFIX


@pytest.mark.parametrize("missing", ["nope", "packages/nope/deeper/"], ids=["depth 1", "depth 3"])
def test_404_page_at_any_depth_has_its_style_and_working_links(
        browser, pages_url: str, missing: str):  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.url != pages_url + missing else None)
    page.on("pageerror", lambda exc: failed.append(str(exc)))
    response = page.goto(pages_url + missing)
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    # material's stylesheet applied: the header is coloured, not an unstyled block
    header = page.evaluate("getComputedStyle(document.querySelector('.md-header'))"
                           ".backgroundColor")
    assert header not in ("", "rgba(0, 0, 0, 0)", "transparent"), header
    page.locator("input.hub-search-input").press_sequentially("open", delay=20)
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=5_000)
    page.locator("article a", has_text="home page").click()
    page.wait_for_url(pages_url)
    assert page.locator("h1").first.inner_text() == "eBPF Hub"
    page.goto(pages_url + missing)
    page.locator("input.hub-search-input").fill("exec")
    page.locator("input.hub-search-input").press("Enter")
    page.wait_for_url(f"{pages_url}search/?q=exec")
    assert page.locator("h1").first.inner_text() == "Search packages"
    assert failed == []
    context.close()


def test_site_url_must_be_an_http_url(tmp_path: Path, site_lock: Path,
                                      capsys: pytest.CaptureFixture[str]):
    code = main(["build", "--index", str(opensnoop_only_index()), "--offline", "--no-cache",
                 "--lock", str(site_lock), "--out", str(tmp_path / "site"),
                 "--site-url", "owner.github.io/hub"])
    assert code == 1
    assert "'owner.github.io/hub' is not an http(s) URL of a folder [site-url]" in (
        capsys.readouterr().out)
    assert not (tmp_path / "site").exists()


def test_package_pages_name_themselves_as_canonical(pages_url: str):
    import urllib.request

    with urllib.request.urlopen(pages_url + "packages/opensnoop/", timeout=10) as reply:
        html = reply.read().decode()
    assert ('<link rel="canonical" href="https://owner.github.io/hub/packages/opensnoop/">'
            in html)


def test_the_demo_server_answers_a_missing_page_with_the_sites_404(tmp_path: Path,
                                                                    site_lock: Path):
    """`make serve` runs `python -m generator serve`: not Python's own bare 404 page."""
    out = build(opensnoop_only_index(), tmp_path / "site", "--lock", str(site_lock))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "generator", "serve", "--dir", str(out),
                                "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(f"serving {out} on http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{port}/"
        with urllib.request.urlopen(base, timeout=10) as home:
            assert b"eBPF Hub" in home.read()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "packages/nope/", timeout=10)
        assert missing.value.code == 404
        body = missing.value.read()
        assert body == (out / "404.html").read_bytes()
        assert b"Page not found" in body
    finally:
        process.terminate()
        process.wait(timeout=10)
