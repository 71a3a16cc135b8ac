"""Hostile descriptions and READMEs: no script they carry may run on the site.

Each payload, if it ran, would call `__xss.push(N)` (or alert): the page
defines that flag before anything loads, and the test reads it back after
loading, hovering, focusing and clicking everything in the description. The
site is built from an index of one package per payload, plus a README file
and a hostile summary that the search results show.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from generator import lock

from index_fixtures import serving

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DIGEST = "sha256:" + "cd" * 32

PAYLOADS = [
    "<script>__xss.push(1)</script>",
    '<img src=x onerror="__xss.push(2)">',
    "[click me](javascript:__xss.push(3))",
    '<svg onload="__xss.push(4)"><circle r="4"/></svg>',
    "<svg><script>__xss.push(5)</script></svg>",
    '<iframe src="javascript:parent.__xss.push(6)"></iframe>',
    '<a href="JaVaScRiPt:__xss.push(7)">mixed case</a>',
    '<a href="&#106;avascript:__xss.push(8)">entity</a>',
    '<body onload="__xss.push(9)">',
    '<div style="background:url(javascript:__xss.push(10))">styled</div>',
    '<math><mtext><table><mglyph><style><img src=x onerror="__xss.push(11)">',
    '<object data="javascript:__xss.push(12)"></object>',
    '<embed src="javascript:__xss.push(13)">',
    '<form action="javascript:__xss.push(14)"><button>go</button></form>',
    '<input autofocus onfocus="__xss.push(15)">',
    '<details open ontoggle="__xss.push(16)"><summary>s</summary></details>',
    '<meta http-equiv="refresh" content="0;url=javascript:__xss.push(17)">',
    '<base href="javascript:__xss.push(18)//">',
    '![image](x" onerror="__xss.push(19))',
    '<a href="data:text/html,<script>parent.__xss.push(20)</script>">data link</a>',
    '<img src="x" alt="a" onmouseover="__xss.push(21)">',
    '<video><source onerror="__xss.push(22)"></video>',
    "<style>@import 'javascript:__xss.push(23)';</style>",
    '<noscript><p title="</noscript><img src=x onerror=__xss.push(24)>"></noscript>',
    "```html\n<script>__xss.push(25)</script>\n```",
    '<a href="#" onclick="__xss.push(26)">click handler</a>',
    '<table><tr><td background="javascript:__xss.push(27)">cell</td></tr></table>',
    "<scr<script>ipt>__xss.push(28)</scr</script>ipt>",
]
README = '# Read me\n\n<script>__xss.push(100)</script>\n<img src=x onerror="__xss.push(101)">\n'
FLAG = "window.__xss = []; window.alert = window.confirm = window.prompt = " \
       "function () { window.__xss.push('dialog'); };"

pytestmark = pytest.mark.browser


def _entry(name: str, body: str) -> str:
    return (f"name: {name}\nkind: bpf\n"
            'summary: "<script>__xss.push(0)</script> hostile summary"\n'
            f"{body}owners: [mallory]\nlicense: MIT\n"
            f"versions:\n  - version: 1.0.0\n    ref: ghcr.io/mallory/{name}:1.0.0\n")


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    tmp = tmp_path_factory.mktemp("xss")
    index = tmp / "index"
    shutil.copytree(REPO / "index" / "schema", index / "schema")
    (index / "packages").mkdir()
    names = []
    locked = {}
    for number, payload in enumerate(PAYLOADS, 1):
        name = f"hostile{number:02d}"
        text = f"Before.\n\n{payload}\n\nAfter {number}.".replace("\n", "\n  ")
        (index / "packages" / f"{name}.yaml").write_text(
            _entry(name, f"description: |\n  {text}\n"))
        names.append(name)
    (index / "packages" / "hostile-readme.md").write_text(README)
    (index / "packages" / "hostilereadme.yaml").write_text(
        _entry("hostilereadme", "readme: hostile-readme.md\n"))
    names.append("hostilereadme")
    for name in names:
        locked[name] = {"1.0.0": lock.Locked(f"ghcr.io/mallory/{name}:1.0.0", DIGEST,
                                             "2026-01-01T00:00:00Z")}
    lock.write(index / "lock.json", locked)
    out = tmp / "site"
    done = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--index", str(index), "--offline",
         "--config", str(REPO / "mkdocs.yml"), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        type("Quiet", (SimpleHTTPRequestHandler,), {"log_message": lambda *a: None}),
        directory=str(out)))
    with serving(server) as url:
        yield url + "/", names


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                              headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def test_corpus_is_big_enough():
    assert len(PAYLOADS) + 1 >= 20


def test_no_hostile_description_or_readme_runs_a_script(hostile_site, browser):
    url, names = hostile_site
    context = browser.new_context()
    context.add_init_script(FLAG)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.dismiss())
    ran: dict[str, list] = {}
    for name in names:
        page.goto(f"{url}packages/{name}/")
        description = page.locator(".hub-description")
        assert description.count() == 1, name
        for element in description.locator("a, img, input, details, button, td, div").all():
            if element.is_visible():
                element.hover(timeout=2_000)
                element.click(timeout=2_000, no_wait_after=True)
        if page.url != f"{url}packages/{name}/":
            page.go_back()
        page.wait_for_timeout(50)
        found = page.evaluate("window.__xss")
        if found:
            ran[name] = found
        assert page.locator(".hub-description script, .hub-description iframe, "
                            ".hub-description [onerror], .hub-description [onclick], "
                            ".hub-description a[href^='javascript' i]").count() == 0, name
    assert ran == {}
    # the flag does catch a handler that runs: the same payload, inserted unsanitised
    page.evaluate("document.body.insertAdjacentHTML('beforeend', "
                  "'<img src=x onerror=\"__xss.push(2)\">')")
    page.wait_for_function("window.__xss.length > 0", timeout=5_000)
    context.close()


def test_hostile_summary_is_text_in_pages_and_search_results(hostile_site, browser):
    url, _ = hostile_site
    context = browser.new_context()
    context.add_init_script(FLAG)
    page = context.new_page()
    page.goto(url + "search/?q=hostile")
    page.locator("ol.hub-results .hub-summary", has_text="<script>").first.wait_for(
        timeout=10_000)
    page.goto(url)
    assert "<script>__xss.push(0)</script>" in page.locator("ul.hub-cards").first.inner_text()
    assert page.evaluate("window.__xss") == []
    context.close()
