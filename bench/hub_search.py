"""Search figures in headless Chromium on a built hub site (e.g. bench/hub_build.py's).

    python bench/hub_search.py --site DIR [--runs 5]

For each run, in a fresh browser context (empty cache):

  * load search/?q=open and time from navigation start until the results are
    in the page (window.hubSearch.timings, read with performance.now());
  * sum the gzipped size of every file fetched before those first results
    (http.server does not compress, so each is gzipped here, as a static host
    would serve it);
  * type one character the instant the search page's load event fires (an
    input event dispatched from a load listener, before any shard can have
    been prefetched), for each of CHARS, each in a fresh context: the time
    from that input event to the results in the page, and to the next frame
    painted after them;
  * then type queries letter by letter into the box (first letters included,
    each in a fresh context so its shard is not yet loaded) and record how long
    each keystroke took to answer, from the input event to the results drawn:
    once typed as fast as the answers come (a stress: a key can need a shard
    requested a few milliseconds before), once at a person's pace (PACE_MS).

Prints a Markdown table of medians and maxima. Not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import platform
import statistics
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
QUERIES = ("tcp latency", "open", "s", "xdp drop", "memory leak", "k")
CHARS = "abcdefghijklmnopqrstuvwxyz0123"
TYPE_AT_LOAD = """window.addEventListener("load", () => {
  const box = document.querySelector("input.hub-search-input");
  box.value = %s;
  box.dispatchEvent(new Event("input", {bubbles: true}));
});"""
PAINT_AFTER_LOAD = """window.addEventListener("load", () => {
  const start = performance.now();
  requestAnimationFrame(() => setTimeout(() => {
    window.paintedAfterLoad = performance.now() - start;
  }, 0));
});"""
WARM_MS = 1000
PACE_MS = 100  # a fast typist: 120 words a minute is about 10 keys a second


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(args.site)))
    server.handle_error = lambda *_: None  # the browser closes contexts mid-prefetch
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    count = len(json.loads(
        (args.site / "api" / "v1" / "search" / "index.json").read_text())["names"])
    first: list[float] = []
    after_load: list[float] = []
    fetched: list[int] = []
    cold_keys: dict[int, list[float]] = {}  # 0: first letters, 1: the others
    warm_keys: dict[int, list[float]] = {}
    paced: list[float] = []  # later keystrokes of queries typed at PACE_MS from the start
    at_load: list[float] = []
    at_load_painted: list[float] = []
    page_painted: list[float] = []  # the page's own next frame after load, nothing typed
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=CHROMIUM_ARGS)
        for _ in range(args.runs):
            context = browser.new_context()
            page = context.new_page()
            page.goto(base + "search/?q=open")
            page.wait_for_function("window.hubSearch && window.hubSearch.firstResultsAt")
            state = page.evaluate("window.hubSearch")
            first.append(state["firstResultsAt"])
            after_load.append(state["firstResultsAt"] - page.evaluate(
                "performance.getEntriesByType('navigation')[0].loadEventEnd"))
            urls = [base + "search/", *state["firstResources"]]
            fetched.append(sum(_gz(args.site, url) for url in urls))
            context.close()
            for _ in range(len(CHARS) // 3):
                page_painted.append(_painted_after_load(browser, base))
            for char in CHARS:
                entry = _type_at_load(browser, base, char)
                at_load.append(entry["ms"])
                at_load_painted.append(entry["painted"])
            for warm in (False, True):
                for query in QUERIES:
                    times = _type(browser, base, query, warm)
                    (warm_keys if warm else cold_keys).setdefault(0, []).append(times[0])
                    (warm_keys if warm else cold_keys).setdefault(1, []).extend(times[1:])
            for query in QUERIES:
                paced.extend(_type(browser, base, query, False, PACE_MS)[1:])
        browser.close()
    server.shutdown()
    rows = [
        ("packages in the index", f"{count}"),
        ("search/?q=open: first results after navigation start (median / max)",
         f"{statistics.median(first):.0f} / {max(first):.0f} ms"),
        ("search/?q=open: first results after the page's load event (median / max)",
         f"{statistics.median(after_load):.0f} / {max(after_load):.0f} ms"),
        ("fetched before the first results, gzipped (median / max)",
         f"{statistics.median(fetched) / 1e3:.0f} / {max(fetched) / 1e3:.0f} KB"),
        (f"one character typed at the load event ({len(CHARS)} characters), median / p95 / max",
         _ms(at_load)),
        ("  the same, until the next frame is painted, median / p95 / max", _ms(at_load_painted)),
        ("  nothing typed: the load event to the next frame painted, median / p95 / max",
         _ms(page_painted)),
        ("first letter typed at once after load (a query's first), median / p95 / max",
         _ms(cold_keys[0])),
        (f"first letter typed {WARM_MS} ms after focus (shards prefetched), median / p95 / max",
         _ms(warm_keys[0])),
        ("every later keystroke, typed as soon as the last answer is drawn, median / p95 / max",
         _ms(cold_keys[1] + warm_keys[1])),
        (f"every later keystroke, typed at once after load, one key per {PACE_MS} ms, "
         "median / p95 / max", _ms(paced)),
    ]
    print(f"\n### {time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"Chromium headless, {args.runs} runs, queries typed: {', '.join(QUERIES)}\n")
    width = max(len(r[0]) for r in rows)
    print(f"| {'what'.ljust(width)} | figure |\n| {'-' * width} | ------ |")
    for what, figure in rows:
        print(f"| {what.ljust(width)} | {figure} |")
    return 0


def _type_at_load(browser, base: str, char: str) -> dict:
    """Type `char` from the search page's load listener; its timing entry."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(TYPE_AT_LOAD % json.dumps(char))
    page.goto(base + "search/")
    page.wait_for_function(
        "document.querySelector('ol.hub-results').getAttribute('data-query')"
        f" === {char!r} && window.hubSearch.timings[0].painted !== undefined")
    entry = page.evaluate("window.hubSearch.timings[0]")
    context.close()
    return entry


def _painted_after_load(browser, base: str) -> float:
    """The search page's own next frame after its load event, with nothing typed."""
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script(PAINT_AFTER_LOAD)
    page.goto(base + "search/")
    page.wait_for_function("window.paintedAfterLoad !== undefined")
    painted = page.evaluate("window.paintedAfterLoad")
    context.close()
    return painted


def _type(browser, base: str, query: str, warm: bool, pace_ms: int = 0) -> list[float]:
    """Type `query` letter by letter in a fresh context; milliseconds per keystroke.

    With `pace_ms`, each key comes that long after the previous one (once its
    answer is drawn), as a person types; without, as soon as the answer is drawn.
    """
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "search/")
    page.wait_for_function("window.hubSearch !== undefined")
    box = page.locator("input.hub-search-input")
    if not warm:  # type at once: the first letter's shard is fetched then
        page.evaluate("document.querySelector('input.hub-search-input').focus()")
    else:  # as a person would: focus, then type a moment later
        box.focus()
        page.wait_for_timeout(WARM_MS)
    for i in range(1, len(query) + 1):
        if pace_ms and i > 1:
            page.wait_for_timeout(pace_ms)
        page.keyboard.type(query[i - 1])
        page.wait_for_function(
            "document.querySelector('ol.hub-results').getAttribute('data-query')"
            f" === {query[:i].strip()!r}")
    timings = [item["ms"] for item in page.evaluate("window.hubSearch.timings")]
    context.close()
    return timings


def _ms(values: list[float]) -> str:
    """Median / 95th percentile / max, and how many of them were over the 50 ms target."""
    p95 = (statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1
           else values[0])
    over = sum(1 for v in values if v > 50)
    return (f"{statistics.median(values):.1f} / {p95:.1f} / {max(values):.1f} ms "
            f"({over} of {len(values)} over 50)")


def _gz(site: Path, url: str) -> int:
    path = urlsplit(url).path
    local = site / path.lstrip("/")
    if local.is_dir():
        local = local / "index.html"
    try:
        return len(gzip.compress(local.read_bytes(), 6))
    except OSError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
