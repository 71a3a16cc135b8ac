"""The 404 page at any depth, in headless Chromium, served the way GitHub Pages serves it.

A static host answers every missing path with the site's 404.html, whatever the
depth of the path: /nope, /packages/nope/deeper/. Its links must therefore be
root-absolute, from the path of the site's URL (`--site-url`). The site is
built for https://owner.github.io/hub/ and served under /hub/ by a small server
that answers unknown paths with 404.html and status 404, like Pages does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from test_site_browser import DIGEST, REF, browser, build  # noqa: F401  (a fixture)

from generator import lock
from generator.__main__ import main

from index_fixtures import opensnoop_only_index, serving

PREFIX = "/hub/"
pytestmark = pytest.mark.browser


class _Pages(SimpleHTTPRequestHandler):
    """Serves the site under PREFIX; anything missing gets 404.html with status 404."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def translate_path(self, path: str) -> str:
        bare = path.split("?", 1)[0].split("#", 1)[0]
        if not bare.startswith(PREFIX):
            return str(Path(self.directory) / "no such file")
        return super().translate_path("/" + bare[len(PREFIX):])

    def send_head(self):  # type: ignore[no-untyped-def]
        target = Path(self.translate_path(self.path))
        if target.is_dir() and self.path.split("?", 1)[0].endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            body = (Path(self.directory) / "404.html").read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        return super().send_head()


@pytest.fixture(scope="module")
def site_lock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lock") / "lock.json"
    lock.write(path, {"opensnoop": {"0.1.0": lock.Locked(REF, DIGEST, "2025-01-02T03:04:05Z")}})
    return path


@pytest.fixture(scope="module")
def pages_url(tmp_path_factory: pytest.TempPathFactory, site_lock: Path) -> Iterator[str]:
    out = build(opensnoop_only_index(), tmp_path_factory.mktemp("pages") / "site",
                "--lock", str(site_lock), "--site-url", "https://owner.github.io/hub/")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Pages, directory=str(out)))
    with serving(server) as url:
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
