"""Search quality on the site: the query table `ecli search` is held to
(tests/test_catalog_search.py, QUERIES), typed into the site's Search page in headless
Chromium; the package meant must be among the first three results there too.

The site is built from this repository's index/ with every version pinned to one
made-up digest (search reads only the entries' text), and served as GitHub Pages would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import test_catalog_search as catalog_search  # the one query table (module: not re-collected)
from test_site_browser import _serve, browser  # noqa: F401  (a fixture)

from bpf_objects import ROOT

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def search_page(browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # noqa: F811
    site = catalog_search.build_catalog_site(tmp_path_factory.mktemp("site-search"))
    page = browser.new_page()
    page.goto(_serve(str(site)) + "search/")
    yield page
    page.close()


def first_three(page, query: str) -> list[str]:
    """What the Search page lists first for `query`, once its answer is complete."""
    page.locator("input.hub-search-input").fill(query)
    answered = page.locator(f"ol.hub-results[data-query={json.dumps(query)}]")
    answered.wait_for(state="attached", timeout=10_000)  # an empty list is hidden
    return page.locator("ol.hub-results a.hub-result").all_inner_texts()[:3]


def test_what_people_type_finds_the_package_in_the_first_three_on_the_site(search_page):
    missed = [f"{query!r}: {shown}" for query, expected in catalog_search.QUERIES
              if expected not in (shown := first_three(search_page, query))]
    assert not missed, "\n".join(missed)


def test_every_catalog_entry_is_found_by_its_own_name_first_on_the_site(search_page):
    names = sorted(p.stem for p in (ROOT / "index" / "packages").glob("*.yaml"))
    wrong = [(name, shown) for name in names
             if (shown := first_three(search_page, name))[:1] != [name]]
    assert not wrong


def test_a_word_nothing_holds_finds_nothing_on_the_site(search_page):
    assert first_three(search_page, "zebrafish") == []
    status = search_page.locator("#hub-search-status").inner_text()
    assert status == "No package matches \u201czebrafish\u201d."
