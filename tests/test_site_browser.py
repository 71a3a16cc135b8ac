"""The built site in headless Chromium: search as you type (a first character typed
the instant the page loads included), filters, navigation, copy buttons, the 404
page, dark mode and a phone-sized screen.

Two sites are built offline: opensnoop's entry (with a hand-written lock) and
a synthetic one of 600 packages from bench/hub_synth.py. Both are
served by http.server on 127.0.0.1 from a thread.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator import lock, serve

from index_fixtures import opensnoop_only_index

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import hub_synth  # noqa: E402  (bench/ is not a package)
from hub_search import TYPE_AT_LOAD  # noqa: E402

DIGEST = "sha256:" + "0123456789abcdef" * 4
REF = "127.0.0.1:5000/ebpfhub/opensnoop:0.1.0"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SYNTHETIC = 600

pytestmark = pytest.mark.browser


@functools.cache
def _serve(folder: str) -> str:
    server = serve.server(Path(folder), 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def build(index: Path, out: Path, *extra: str) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--index", str(index), "--offline",
         "--config", str(REPO / "mkdocs.yml"), "--out", str(out), *extra],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("browser")
    lock.write(tmp / "lock.json",
               {"opensnoop": {"0.1.0": lock.Locked(REF, DIGEST, "2025-01-02T03:04:05Z")}})
    index = opensnoop_only_index()
    return _serve(str(build(index, tmp / "site", "--lock", str(tmp / "lock.json"))))


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    tmp = tmp_path_factory.mktemp("synthetic")
    index = hub_synth.write(tmp, SYNTHETIC)
    out = build(index, tmp / "site", "--stats", str(tmp / "stats.json"))
    return _serve(str(out)), out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
            else None)
    page.errors = errors
    yield page
    context.close()


def test_search_from_home_page_reaches_package_with_full_digest(site_url: str, page):
    page.goto(site_url)
    box = page.locator("input.hub-search-input")
    box.click()
    box.press_sequentially("open", delay=30)
    result = page.locator("ol.hub-results a.hub-result", has_text="opensnoop")
    result.wait_for(timeout=10_000)
    page.locator("ol.hub-results .hub-summary", has_text="Trace open() system calls").wait_for()
    result.click()
    page.wait_for_url("**/packages/opensnoop/")
    assert page.locator("h1").inner_text() == "opensnoop"
    digest = page.locator("code.hub-digest").first
    assert digest.inner_text() == DIGEST
    assert digest.is_visible()
    assert page.errors == []


def test_an_unsigned_package_page_shows_a_visible_red_warning(site_url: str, page):
    page.goto(site_url + "packages/opensnoop/")
    badge = page.locator(".hub-unsigned .hub-badge.hub-danger")
    assert badge.inner_text() == "unsigned" and badge.is_visible()
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(198, 40, 40)"
    assert "declares no signer" in page.locator("p.hub-unsigned").inner_text()
    assert page.errors == []


def test_search_page_reads_the_query_and_answers_every_keystroke(site_url: str, page):
    page.goto(site_url + "search/?q=sysc")
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=10_000)
    assert page.locator("#hub-search-status").inner_text() == "1 package matches."
    box = page.locator("input.hub-search-input")
    box.fill("")
    box.press_sequentially("xdp", delay=20)
    page.locator("#hub-search-status", has_text="No package matches").wait_for(timeout=5_000)
    assert page.locator("ol.hub-results li").count() == 0
    assert page.url.endswith("?q=xdp")
    box.fill("open file")  # every word must match, as a prefix of some term
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=5_000)
    box.fill("snoop")  # a suffix of the name
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=5_000)


def test_enter_in_home_box_opens_the_search_page(site_url: str, page):
    page.goto(site_url)
    box = page.locator("input.hub-search-input")
    box.fill("trace")
    box.press("Enter")
    page.wait_for_url("**/search/?q=trace")
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=10_000)


def _catalog(out: Path) -> list[dict]:
    return json.loads((out / "api" / "v1" / "catalog.json").read_text())["packages"]


def test_filters_narrow_results_by_kind_category_and_architecture(big_site, page):
    url, out = big_site
    catalog = _catalog(out)
    page.goto(url + "search/")
    page.locator("select[name=kind]").select_option("image")
    status = page.locator("#hub-search-status")
    images = sum(1 for p in catalog if p["kind"] == "image")
    status.filter(has_text=f"{images} packages match.").wait_for(timeout=10_000)
    kinds = page.locator("ol.hub-results .hub-kind").all_inner_texts()
    assert kinds and set(kinds) == {"image"}
    page.locator("select[name=kind]").select_option("")
    page.locator("select[name=category]").select_option("networking")
    page.locator("select[name=arch]").select_option("arm64")
    wanted = sum(1 for p in catalog if "networking" in p["categories"]
                 and (not p["architectures"] or "arm64" in p["architectures"]))
    status.filter(has_text=f"{wanted} packages match.").wait_for(timeout=5_000)
    assert "category=networking" in page.url and "arch=arm64" in page.url
    box = page.locator("input.hub-search-input")
    box.press_sequentially("tcp", delay=20)
    both = sum(1 for p in catalog if "networking" in p["categories"]
               and (not p["architectures"] or "arm64" in p["architectures"])
               and ("tcp" in p["name"] or "tcp" in p["keywords"]
                    or "tcp" in p["summary"].lower()))
    status.filter(has_text=f"{both} package").wait_for(timeout=5_000)
    page.reload()  # the filters and query come back from the URL
    status.filter(has_text=f"{both} package").wait_for(timeout=5_000)
    assert page.locator("select[name=category]").input_value() == "networking"
    assert page.errors == []


def test_every_keystroke_answers_and_shards_load_as_needed(big_site, page):
    url, out = big_site
    page.goto(url + "search/")
    box = page.locator("input.hub-search-input")
    for text in ("o", "op", "ope", "open"):
        box.fill(text)
        page.locator(f'ol.hub-results[data-query="{text}"]').wait_for(timeout=5_000)
    first = page.locator("ol.hub-results a.hub-result").first.inner_text()
    assert first.startswith("open")
    state = page.evaluate("window.hubSearch")
    assert [t["query"] for t in state["timings"]][-4:] == ["o", "op", "ope", "open"]
    assert state["fetched"][0] == "index.json" and "terms/o.json" in state["fetched"]
    # once someone searches, the other shards follow one by one while the page is idle
    shards = len(json.loads((out / "api" / "v1" / "search" / "index.json").read_text())
                 ["shards"])
    page.wait_for_function("n => window.hubSearch.fetched.filter("
                           "f => f.startsWith('terms/')).length === n", arg=shards,
                           timeout=10_000)


def _head(out: Path) -> dict:
    return json.loads((out / "api" / "v1" / "search" / "index.json").read_text())


def _shown(page) -> list[str]:
    return page.locator("ol.hub-results a.hub-result").all_inner_texts()


def test_page_ranks_each_shard_as_the_head_says(big_site, page):
    """The head's one-character answers (generator/search.py's rank) are the first
    ids of the page's own ranking from the shards, popularity bonus included."""
    url, out = big_site
    head = _head(out)
    assert head["popular"], "the stats file gives a popularity bonus to check"
    page.goto(url + "search/")
    for char, first in head["first"].items():
        ids = page.evaluate("c => window.hubSearch.answer(c)", char)
        assert (ids[:len(first["top"])], len(ids)) == (first["top"], first["count"]), char
    assert len(head["first"]) >= 25  # every first character but the stop words "a" and "i"
    assert page.errors == []


def _type_at_load(page, url: str, char: str, query: str = "") -> None:
    page.add_init_script(TYPE_AT_LOAD % json.dumps(char))
    page.goto(url + "search/" + query)
    page.locator(f'ol.hub-results[data-query="{char}"]').wait_for(timeout=10_000)


@pytest.mark.parametrize("pick", [0, 1, -1])  # the widest shard, another, the narrowest
def test_first_character_typed_at_load_shows_the_full_answer(big_site, page, pick: int):
    url, out = big_site
    head = _head(out)
    char = [k for k in head["shards"] if k in head["first"]][pick]
    _type_at_load(page, url, char)
    state = page.evaluate("window.hubSearch")
    assert [(t["query"], t["from"]) for t in state["timings"]] == [(char, "head")], state
    shown = _shown(page)
    ids = page.evaluate("c => window.hubSearch.answer(c)", char)  # the shards' answer
    assert shown == [head["names"][i] for i in ids[:20]]
    status = page.locator("#hub-search-status").inner_text()
    assert status == (f"{len(ids)} packages match." if len(ids) > 1 else "1 package matches.")
    more = page.locator("a.hub-more")
    if len(ids) <= 20:
        assert more.count() == 0
    else:
        assert more.inner_text() == f"show more ({len(ids)} results)"
        more.click()  # the next page comes from the shard, in place
        page.wait_for_function("n => document.querySelectorAll('a.hub-result').length === n",
                               arg=min(40, len(ids)))
        assert _shown(page) == [head["names"][i] for i in ids[:40]]
    box = page.locator("input.hub-search-input")
    box.fill("")
    box.fill(char)  # again, now from the shard: the same answer
    page.locator(f'ol.hub-results[data-query="{char}"]').wait_for()
    assert page.evaluate("window.hubSearch.timings.at(-1).from") == "shards"
    assert _shown(page) == shown
    assert page.errors == []


def test_first_character_typed_at_load_with_a_filter(big_site, page):
    """With a filter the head's ids give only a first part of the answer: shown at once,
    completed when the shard arrives, and only then marked answered."""
    url, out = big_site
    head = _head(out)
    char = head["shards"][0]
    _type_at_load(page, url, char, "?category=networking")
    wanted = {"kind": -1, "category": "networking"}
    ids = page.evaluate("([c, w]) => window.hubSearch.answer(c, w)", [char, wanted])
    assert _shown(page) == [head["names"][i] for i in ids[:20]]
    assert page.locator("#hub-search-status").inner_text() == f"{len(ids)} packages match."
    assert page.evaluate("window.hubSearch.timings.at(-1)")["from"] == "shards"
    assert page.locator("ol.hub-results").get_attribute("data-pending") is None
    catalog = {p["name"]: p for p in _catalog(out)}
    assert all("networking" in catalog[name]["categories"] for name in _shown(page))
    assert page.errors == []


def test_navigation_owner_pages_popular_and_feed(big_site, page):
    url, _ = big_site
    page.goto(url)
    assert page.locator("h2#featured").is_visible() and page.locator("h2#latest").is_visible()
    assert page.locator("h2#popular").is_visible()  # the stats file was given
    page.locator("ul.hub-cards a").first.click()
    page.wait_for_url("**/packages/*/")
    name = page.locator("h1").inner_text()
    page.locator("a[href^='../../authors/']").first.click()
    page.wait_for_url("**/authors/*/")
    page.locator("ul.hub-cards a", has_text=name).wait_for()
    page.goto(url + "packages/")
    assert page.locator("ul.hub-all li").count() == SYNTHETIC
    feed = page.request.get(url + "feed.xml")
    assert feed.ok and feed.text().count("<entry>") == 50
    assert page.errors == []


def test_copy_buttons_put_the_command_on_the_clipboard(site_url: str, browser):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(site_url + "packages/opensnoop/")
    buttons = page.locator("pre.hub-command button.md-code__button")  # the theme's own
    buttons.first.wait_for(timeout=5_000)
    assert buttons.count() == 3
    buttons.nth(2).click()
    page.wait_for_function("navigator.clipboard.readText().then(t => t.startsWith('ecli pull'))")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"ecli pull 127.0.0.1:5000/ebpfhub/opensnoop@{DIGEST}"
    buttons.first.click()
    assert page.evaluate("navigator.clipboard.readText()") == "sudo ecli run opensnoop"
    context.close()


def test_every_page_but_home_and_search_has_a_search_box_in_its_header(site_url: str, page):
    page.goto(site_url + "packages/opensnoop/")
    box = page.locator(".md-header__inner #hub-header-search input.hub-search-input")
    box.press_sequentially("open", delay=20)
    result = page.locator("#hub-header-search ol.hub-results a.hub-result", has_text="opensnoop")
    result.wait_for(timeout=5_000)
    box.press("Enter")
    page.wait_for_url(site_url + "search/?q=open")
    assert page.locator("#hub-header-search").count() == 0  # the page's own box is enough
    page.goto(site_url)
    assert page.locator("#hub-header-search").count() == 0


@pytest.mark.parametrize("width", [1280, 390])
def test_a_long_pull_command_wraps_clear_of_its_copy_button(site_url: str, browser,
                                                              width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(site_url + "packages/opensnoop/")
    pull = page.locator("pre.hub-command", has_text="ecli pull")
    code = pull.locator("code")
    assert DIGEST in code.inner_text().replace("\n", "")
    fits = code.evaluate("c => c.scrollWidth <= c.clientWidth")
    assert fits, "the command runs under the copy button"
    text = code.evaluate("""c => { const r = document.createRange(); r.selectNodeContents(c);
        return r.getBoundingClientRect().right; }""")
    button = pull.locator("button").bounding_box()
    assert button is not None and text <= button["x"] + 1
    context.close()


def test_home_page_browses_by_category_with_counts(big_site, page):
    url, out = big_site
    counts: dict[str, int] = {}
    for entry in _catalog(out):
        for category in entry["categories"]:
            counts[category] = counts.get(category, 0) + 1
    page.goto(url)
    links = page.locator("ul.hub-categories a")
    shown = dict(page.evaluate("""() => [...document.querySelectorAll('ul.hub-categories a')]
        .map(a => [a.firstChild.textContent, +a.querySelector('.hub-count').textContent])"""))
    assert shown == {c: n for c, n in counts.items() if n}
    assert page.evaluate("getComputedStyle(document.querySelector('ul.hub-categories'))"
                         ".display") == "flex"
    first = next(iter(shown))
    links.first.click()
    page.wait_for_url(f"{url}search/?category={first}")
    page.locator("ol.hub-results a.hub-result").first.wait_for(timeout=5_000)


def test_404_page_offers_search(site_url: str, page):
    page.goto(site_url + "404.html")
    assert page.locator("h1").inner_text() == "Page not found"
    box = page.locator("input.hub-search-input")
    box.press_sequentially("open", delay=20)
    page.locator("ol.hub-results a.hub-result", has_text="opensnoop").wait_for(timeout=5_000)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_dark_mode_and_phone_screen(site_url: str, browser, tmp_path: Path, scheme: str):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 375, "height": 740},
                                  device_scale_factor=1, is_mobile=True, has_touch=True)
    page = context.new_page()
    for path in ("", "packages/opensnoop/"):
        page.goto(site_url + path)
        expected = "slate" if scheme == "dark" else "default"
        assert page.locator("body").get_attribute("data-md-color-scheme") == expected
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path or 'home'} is wider than the phone screen"
        assert page.locator("input.hub-search-input, code.hub-digest").first.is_visible()
        shot = path.strip("/").replace("/", "-") or "home"
        page.screenshot(path=str(tmp_path / f"{scheme}-{shot}.png"), full_page=True)
    context.close()
