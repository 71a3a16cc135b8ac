"""The search page's "works on my kernel" filter in headless Chromium, against ecli's rule.

A synthetic index of 12 packages (bench/hub_synth.py) gets kernel results for five:
proven on amd64 and arm64 6.1, failed on 6.1 but passed on 6.12, arm64 only, a
result on an older version only (the newest usable version is what counts), and a
failure only. For each (release, machine) typed into the page, the packages shown
must be exactly those `ecli.packages.kernelmatrix.works_on` keeps over the site's
own api/v1 documents, and for this machine's architecture exactly what
`ecli search --kernel` prints.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from test_site_browser import _serve, _shown, browser, build, hub_synth, page  # noqa: F401

from ecli.hubindex import model
from ecli.packages.kernelmatrix import newest_usable, works_on
from generator import kernelfilter, kernelresults, lock
from generator.kernelresults import KernelResult

from ecli_process import run_ecli

pytestmark = pytest.mark.browser
AMD61, AMD612 = "6.1.0-50-cloud-amd64", "6.12.57+deb12-cloud-amd64"
ARM61, ARM612 = "6.1.0-50-cloud-arm64", "6.12.57+deb12-cloud-arm64"
CASES = [  # (what is typed, machine)
    (AMD61, "x86_64"), ("6.18.44", "x86_64"), ("6.12.57+deb12-cloud-amd64", "x86_64"),
    ("6.1", "x86_64"), ("5.4.0", "x86_64"), ("weird", "x86_64"),
    (ARM61, "aarch64"), ("6.13", "aarch64"),
]


@pytest.fixture(scope="module")
def proven_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, list[str]]:
    tmp = tmp_path_factory.mktemp("kernelfilter")
    index = hub_synth.write(tmp, 12, versions=2)
    locked = lock.read(index / "lock.json")
    names = sorted(locked)

    def result(name: str, version: str, kernel: str, arch: str, outcome: str) -> KernelResult:
        return KernelResult(kernel, arch, outcome, "" if outcome == "pass" else "verifier",
                            "2026-11-30", locked[name][version].digest)

    both, newer, arm, old, failed = names[:5]
    results = {
        both: {"1.1.0": [result(both, "1.1.0", AMD61, "x86_64", "pass"),
                         result(both, "1.1.0", ARM61, "aarch64", "pass")]},
        newer: {"1.1.0": [result(newer, "1.1.0", AMD61, "x86_64", "fail"),
                          result(newer, "1.1.0", AMD612, "x86_64", "pass")]},
        arm: {"1.1.0": [result(arm, "1.1.0", ARM612, "aarch64", "pass")]},
        old: {"1.0.0": [result(old, "1.0.0", AMD61, "x86_64", "pass")]},
        failed: {"1.1.0": [result(failed, "1.1.0", AMD612, "x86_64", "fail")]},
    }
    kernelresults.write(index / kernelresults.RESULTS_FILE, results)
    out = build(index, tmp / "site")
    return _serve(str(out)), out, names


def _documents(out: Path) -> list[model.PackageDocument]:
    folder = out / "api" / "v1" / "packages"
    return [model.load_package(path.read_bytes(), str(path)) for path in folder.glob("*.json")]


def _ecli_keeps(out: Path, release: str, machine: str) -> list[str]:
    kept = []
    for document in _documents(out):
        latest = newest_usable(document)
        if latest is not None and works_on(latest, release, machine):
            kept.append(document.name)
    return sorted(kept)


def test_the_filter_keeps_what_ecli_keeps(proven_site, page):  # noqa: F811
    url, out, names = proven_site
    both, newer, arm = names[:3]
    expected = {case: _ecli_keeps(out, *case) for case in CASES}
    # the cases reach every branch of the rule: not a vacuous agreement
    assert expected[(AMD61, "x86_64")] == [both]
    assert expected[("6.18.44", "x86_64")] == sorted([both, newer])
    assert expected[("6.13", "aarch64")] == sorted([both, arm])
    assert expected[("6.1", "x86_64")] == [] and expected[("weird", "x86_64")] == []
    page.goto(url + "search/")
    status = page.locator("#hub-search-status")
    release = page.locator("input.hub-kernel-release")
    machine = page.locator("select.hub-kernel-machine")
    assert "search/kernels.json" not in _requested(page)  # fetched only when used
    for (typed, arch), kept in expected.items():
        machine.select_option(arch)
        release.fill(typed)
        status.filter(has_text=_said(len(kept))).wait_for(timeout=10_000)
        assert sorted(_shown(page)) == kept, (typed, arch)
    release.fill("")  # cleared, with no query and no other filter: the empty page again
    page.wait_for_function("!document.querySelector('ol.hub-results a.hub-result')",
                           timeout=10_000)
    assert "kernel=" not in page.url
    assert page.errors == []


def test_the_filter_comes_back_from_the_address_and_combines_with_a_query(proven_site,
                                                                        page):  # noqa: F811
    url, _out, names = proven_site
    both, newer = names[:2]
    page.goto(url + f"search/?q={newer}&kernel=6.18.44&machine=x86_64")
    page.locator("ol.hub-results a.hub-result").first.wait_for(timeout=10_000)
    page.locator("#hub-search-status").filter(has_text=_said(1)).wait_for(timeout=10_000)
    assert _shown(page) == [newer]
    assert page.locator("input.hub-kernel-release").input_value() == "6.18.44"
    assert "proven by the hub on a x86_64 kernel no newer than 6.18.44" in page.locator(
        ".hub-kernel-note").inner_text()
    page.locator("input.hub-search-input").fill("")
    page.locator("#hub-search-status").filter(has_text=_said(2)).wait_for(timeout=10_000)
    assert sorted(_shown(page)) == sorted([both, newer])
    assert "kernel=6.18.44" in page.url and "machine=x86_64" in page.url
    assert page.errors == []


def test_the_kernels_file_carries_the_rule_from_ecli(proven_site):
    _url, out, names = proven_site
    data = json.loads((out / "api" / "v1" / kernelfilter.FILE).read_text())
    assert data["release_pattern"] == r"\d+(?:\.\d+)*"
    assert data["proven"]["x86_64"] == {names[0]: [6, 1, 0], names[1]: [6, 12, 57]}
    assert data["proven"]["aarch64"] == {names[0]: [6, 1, 0], names[2]: [6, 12, 57]}
    assert data["architectures"] == ["aarch64", "x86_64"]


def test_ecli_search_kernel_agrees_on_this_machine(proven_site, tmp_path):
    _url, out, _names = proven_site
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home"), "ECLI_DEFAULT_SOURCE": ""}
    assert run_ecli("sources", "add", "site", str(out / "api" / "v1"), env=env).returncode == 0
    machine = os.uname().machine
    for typed, arch in CASES:
        if arch != machine:
            continue
        done = run_ecli("--quiet", "search", "", "--kernel", typed, env=env)
        assert sorted(done.stdout.split()) == _ecli_keeps(out, typed, arch), typed


def _said(count: int) -> re.Pattern[str]:
    """The status line for `count` results, whole (so that 1 is not found in 11)."""
    if count == 0:
        return re.compile("^No package matches")
    return re.compile(rf"^{count} package{'s match' if count > 1 else ' matches'}\.$")


def _requested(tab) -> list[str]:
    return tab.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
