"""Package pages that sell the package: the program's own options (read from the object the
hub pulled), the captured example output, source and homepage links, and a version picker
that works on a static site with no script.

biolatency is built from examples/ with `ecli build`, pushed to a real registry as two
versions, resolved, inspected and built into a site, then read in headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from test_site_browser import _serve, browser  # noqa: F401  (a fixture)

from generator.__main__ import main

from bpf_objects import ROOT
from ecli_process import run_ecli

VERSIONS = ("0.2.0", "0.1.0")  # newest first, as entries list them
EXAMPLE = "$ sudo ecli run biolatency --duration 5\nio_latency\n  0 -> 1 : 3 |****|\n"
pytestmark = [pytest.mark.registry, pytest.mark.browser]
README_CAPTURE = re.compile(r"^What it printed here[^\n]*\n\n```[a-z]*\n(.*?)\n```", re.S | re.M)


@pytest.fixture(scope="module")
def site(registry, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hub of one package, biolatency, in two versions pushed to the registry."""
    tmp = tmp_path_factory.mktemp("pages")
    project = tmp / "biolatency"
    shutil.copytree(ROOT / "examples" / "biolatency", project)
    env = {**os.environ, "ECLI_HOME": str(tmp / "home"), "ECLI_DEFAULT_SOURCE": ""}
    built = run_ecli("build", str(project), env=env, timeout=300)
    assert built.returncode == 0, built.stderr
    for version in VERSIONS:
        pushed = run_ecli("push", f"{registry.host}/ebpfhub/biolatency:{version}", "--dir",
                          str(project), env=env)
        assert pushed.returncode == 0, pushed.stderr
    index = tmp / "index"
    shutil.copytree(ROOT / "index" / "schema", index / "schema")
    (index / "packages").mkdir()
    entry = yaml.safe_load((ROOT / "index" / "packages" / "biolatency.yaml").read_text())
    entry.pop("test", None)
    entry["example"] = EXAMPLE
    entry["versions"] = [{"version": v, "ref": f"{registry.host}/ebpfhub/biolatency:{v}"}
                         for v in VERSIONS]
    (index / "packages" / "biolatency.yaml").write_text(yaml.safe_dump(entry))
    assert main(["resolve", "--index", str(index)]) == 0
    assert main(["inspect", "--index", str(index), "--store", str(tmp / "store")]) == 0
    out = tmp / "site"
    assert main(["build", "--index", str(index), "--offline", "--out", str(out),
                 "--config", str(ROOT / "mkdocs.yml")]) == 0
    return out


def test_the_options_come_from_the_object_with_the_package_text(site: Path):
    document = json.loads((site / "api/v1/packages/biolatency.json").read_text())
    for version in document["versions"]:  # const volatile bool targ_per_disk = false;
        assert version["inspection"]["options"] == [
            {"flag": "disks", "type": "bool", "default": "off",
             "description": "one histogram per disk"}]
    page = (site / "packages/biolatency/index.html").read_text()
    assert ("<tr><td><code>--disks</code></td><td><code>bool</code></td><td>off</td>"
            "<td>one histogram per disk</td></tr>") in page


def test_the_page_shows_the_example_and_links_source_and_homepage(site: Path):
    document = json.loads((site / "api/v1/packages/biolatency.json").read_text())
    assert document["example"] == EXAMPLE
    page = (site / "packages/biolatency/index.html").read_text()
    assert ('<pre class="hub-example"><code>$ sudo ecli run biolatency --duration 5\n'
            "io_latency\n  0 -&gt; 1 : 3 |****|\n</code></pre>") in page
    for url in (document["source"], document["homepage"]):
        assert url.startswith("https://github.com/") and f'<a href="{url}"' in page


def test_the_version_picker_shows_one_version_at_a_time_without_scripts(
        site: Path, browser):  # noqa: F811
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(_serve(str(site)) + "packages/biolatency/")
    newest, older = (page.locator(".hub-vpanel", has=page.locator(f'[id="v-{v}"]'))
                     for v in VERSIONS)
    assert newest.is_visible() and not older.is_visible()
    assert newest.locator("h3").first.inner_text() == "Version 0.2.0"
    assert newest.locator(".hub-options").is_visible()
    page.locator(".hub-vpicker a", has_text="0.1.0").click()
    assert page.url.endswith("#v-0.1.0")
    assert older.is_visible() and not newest.is_visible()
    assert older.locator("pre.hub-command").first.inner_text() == "sudo ecli run biolatency@0.1.0"
    # the same object in both: its sections say so in one line, linking the default's
    assert older.locator("p.hub-same").first.inner_text() == "As in 0.2.0."
    page.goto(page.url.replace("#v-0.1.0", "#v-0.2.0"))  # a link straight to a version
    assert newest.is_visible() and not older.is_visible()
    page.locator(".hub-versions a", has_text="0.1.0").click()  # the versions table links too
    assert older.is_visible()
    context.close()


def test_each_version_panel_copies_its_own_commands(site: Path, browser):  # noqa: F811
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()

    def copied(url: str) -> list[str]:
        page.goto(url)
        buttons = page.locator("pre.hub-command:visible button.md-code__button")
        buttons.first.wait_for(timeout=5_000)
        texts = []
        for i in range(buttons.count()):
            buttons.nth(i).click()
            texts.append(page.evaluate("navigator.clipboard.readText()"))
        return texts

    url = _serve(str(site)) + "packages/biolatency/"
    run, install, pull = copied(url)
    assert (run, install) == ("sudo ecli run biolatency", "ecli install biolatency")
    assert re.fullmatch(r"ecli pull 127\.0\.0\.1:\d+/ebpfhub/biolatency@sha256:[0-9a-f]{64}",
                        pull)
    assert copied(url + "#v-0.1.0")[2:] == ["sudo ecli run biolatency@0.1.0"]
    context.close()


def test_each_catalog_example_is_its_readme_capture():
    """The example on a page is the output the README shows as captured from a run,
    not text typed again; every entry links its source and its README."""
    checked = 0
    for file in sorted((ROOT / "index" / "packages").glob("*.yaml")):
        entry = yaml.safe_load(file.read_text())
        folder = f"examples/{entry['name']}"
        assert entry["source"].endswith(f"/tree/main/{folder}"), file.name
        assert entry["homepage"].endswith(f"/blob/main/{folder}/README.md"), file.name
        found = README_CAPTURE.search((ROOT / folder / "README.md").read_text())
        if "example" not in entry:
            assert found is None, f"{file.name}: its README has a capture: add it as example"
            continue
        assert found is not None, f"{file.name}: example, but no capture in its README"
        capture = "".join(line.rstrip() + "\n" for line in found.group(1).splitlines())
        assert entry["example"] == capture, file.name
        checked += 1
    assert checked >= 29



def test_a_version_that_differs_shows_its_own_sections_and_all_yanked_shows_the_first():
    from ecli.hubindex import model
    from generator import render

    def version(number: str, level: str, yanked: str | None = None) -> model.Version:
        found = model.Inspection(permissions=(model.Permission("p", level, f"{level} text"),))
        return model.Version(version=number, ref=f"r/x:{number}", repository="r/x",
                             digest="sha256:" + "ab" * 32, yanked=yanked, inspection=found)

    document = model.PackageDocument(schema_version=1, name="x", summary="s", kind="bpf",
                                      versions=(version("2.0.0", "info"),
                                                version("1.1.0", "info"),
                                                version("1.0.0", "dangerous")))
    page = render.package_page(document)
    panels = page.split('<section class="hub-vpanel')[1:]
    assert [p.count("hub-same") for p in panels] == [0, 2, 1]  # permissions, requirements
    assert "dangerous text" in panels[2] and "dangerous text" not in panels[0]
    assert ' hub-vshown"><span class="hub-vanchor" id="v-2.0.0">' in page
    yanked = model.PackageDocument(schema_version=1, name="x", summary="s", kind="bpf",
                                   versions=(version("2.0.0", "info", "broken"),
                                             version("1.0.0", "info", "broken")))
    page = render.package_page(yanked)
    assert ' hub-vshown"><span class="hub-vanchor" id="v-2.0.0">' in page
    assert "sudo ecli run x@2.0.0" in page  # no latest: every panel pins its version
    assert "(latest)" not in page
