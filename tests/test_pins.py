"""Pins that live in Git, and a pull-request gate the pull request cannot rewrite.

Every test works on real Git repositories: a bare `origin` holding the index
repository (this repository's generator, schema, site templates and
workflows, plus a test entry), artifacts pushed to the real registry with
ecli's registry client, and the workflows' own commands (the `run:` steps of
publish.yml, refresh.yml and validate-pr.yml, which call
.github/scripts/pin.sh and gate.sh) run in FRESH clones, as CI runs them.
The bad pull requests are a table (`BAD_PRS`): each must fail the gate with
its one line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ecli.oci import artifact, reference
from ecli.oci import registry as oci_registry
from ecli.oci.config import PackageConfig
from ecli.oci.store import Store

REPO = Path(__file__).resolve().parent.parent
COPIED = ("generator", "index/schema", "site_overrides", "mkdocs.yml", ".github")
ENTRY = "index/packages/tool.yaml"
pytestmark = pytest.mark.registry


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), "-c", "user.name=maintainer",
                           "-c", "user.email=m@example.org", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def entry(repository: str, versions: list[tuple[str, str]], owners: str = "[alice]") -> str:
    items = "".join(f"  - version: {v}\n    ref: '{repository}{r}'\n" for v, r in versions)
    return (f"name: tool\nkind: bpf\nsummary: a tool\nowners: {owners}\nlicense: GPL-2.0-only\n"
            f"versions:\n{items}")


@dataclass
class Hub:
    """An index repository in `origin`, its artifacts in the test registry."""

    root: Path
    origin: Path
    repository: str  # REGISTRY/REPOSITORY of the test's package
    objects: list[Path]
    clones: int = 0

    def clone(self) -> Path:
        """A fresh clone of origin's main, as actions/checkout makes (fetch-depth: 0)."""
        self.clones += 1
        path = self.root / f"clone{self.clones}"
        subprocess.run(["git", "clone", "-q", str(self.origin), str(path)], check=True)
        return path

    def merge(self, files: dict[str, str | None], message: str) -> str:
        """Commit `files` (None deletes) on main and push: a maintainer merging a PR."""
        work = self.clone()
        commit(work, files, message)
        git(work, "push", "-q", "origin", "HEAD:main")
        return git(work, "rev-parse", "HEAD")

    def push(self, tag: str, content: int = 0) -> str:
        """Push package `tool` built from object `content` under `tag`; its digest."""
        store = Store(self.root / f"layout-{tag}-{content}")
        store.ensure()
        obj = self.objects[content]
        config = PackageConfig(name="tool", version=tag, kind="bpf", object=obj.name,
                               platforms=("linux/amd64",))
        artifact.create(store, config, [obj], tag=tag)
        return oci_registry.push(store, reference.parse(f"{self.repository}:{tag}"))

    def pull_request(self, files: dict[str, str | None]) -> Path:
        """A PR branch on top of main, and a fresh clone at the base with it fetched as
        validate-pr.yml fetches it (refs/remotes/pr/merge)."""
        work = self.clone()
        branch = f"pr{self.clones}"
        git(work, "checkout", "-q", "-b", branch)
        commit(work, files, "the pull request")
        git(work, "push", "-q", "origin", branch)
        gate = self.clone()
        git(gate, "fetch", "-q", "--no-tags", "origin",
            f"+refs/heads/{branch}:refs/remotes/pr/merge")
        return gate


def commit(work: Path, files: dict[str, str | None], message: str) -> None:
    for name, text in files.items():
        path = work / name
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)


@pytest.fixture
def hub(tmp_path: Path, registry, objects) -> Hub:
    """origin: this repository's generator, schema, templates and workflows, no entry yet."""
    seed = tmp_path / "seed"
    for name in COPIED:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, seed / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, seed / name)
    (seed / "index" / "packages").mkdir()
    (seed / "index" / "packages" / ".keep").write_text("")
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "the hub")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True)
    repository = f"{registry.host}/pins/{tmp_path.name.lower().replace('_', '-')}"
    return Hub(tmp_path, origin, repository, [objects["opensnoop"], objects["execsnoop"]])


def steps(clone: Path, workflow: str, name: str | None = None) -> list[str]:
    """The `run:` steps of the clone's own workflow (all but installing), or the one named."""
    jobs = yaml.safe_load((clone / ".github" / "workflows" / f"{workflow}.yml").read_text())
    runs = [(step.get("name", ""), step["run"]) for job in jobs["jobs"].values()
            for step in job.get("steps", []) if "run" in step]
    if name is not None:
        return [run for step, run in runs if step.startswith(name)]
    return [run for _, run in runs if not run.startswith("pip install")]


def run(clone: Path, scripts: list[str], **env: str) -> tuple[int, str]:
    """Each script as GitHub runs a `run:` step (bash -eo pipefail), stopping at a failure;
    `python` is this test run's interpreter, whose site-packages hold ecli."""
    assert scripts, "no such step in the workflow"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    full = {**os.environ, "PATH": path, "PYTHONDONTWRITEBYTECODE": "1", **env}
    out = ""
    for script in scripts:
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=clone, env=full, capture_output=True, text=True, timeout=300)
        out += done.stdout + done.stderr
        if done.returncode:
            return done.returncode, out
    return 0, out


def publish(hub: Hub) -> tuple[Path, str]:
    """publish.yml's steps in a fresh clone of main."""
    clone = hub.clone()
    code, out = run(clone, steps(clone, "publish"), STATS_URL="",
                    SITE_URL="https://hub.example.org")
    assert code == 0, out
    return clone, out


def gate(clone: Path, author: str = "alice") -> tuple[int, str]:
    """validate-pr.yml's gate step, from the base checkout, against pr/merge."""
    return run(clone, steps(clone, "validate-pr", "scope, then"),
               BASE=git(clone, "rev-parse", "HEAD"), AUTHOR=author)


def locked(hub: Hub) -> dict[str, dict[str, str]]:
    """origin main's committed index/lock.json, read from a fresh clone."""
    text = (hub.clone() / "index" / "lock.json").read_text()
    return json.loads(text)["packages"]["tool"]


def test_a_moved_tag_fails_refresh_from_a_fresh_clone_and_the_site_keeps_the_pin(hub: Hub):
    first = hub.push("1.0.0")
    hub.merge({ENTRY: entry(hub.repository, [("1.0.0", ":1.0.0")])}, "add tool")
    _, out = publish(hub)
    assert "index/lock.json committed and pushed" in out
    assert locked(hub)["1.0.0"]["digest"] == first  # the pin is in origin's history
    moved = hub.push("1.0.0", content=1)
    assert moved != first
    clone = hub.clone()
    code, out = run(clone, steps(clone, "refresh"))
    assert code == 1, out
    assert (f"{ENTRY}:8:10: ref: tool 1.0.0: the tag moved: "
            f"{hub.repository}:1.0.0 was {first} when published and is now {moved} "
            "[moved]") in out
    site, out = publish(hub)  # a deploy neither re-pins nor re-dates the version
    assert "pinned:" not in out
    document = json.loads((site / "site" / "api" / "v1" / "packages" / "tool.json").read_text())
    assert [v["digest"] for v in document["versions"]] == [first]


def test_published_is_the_first_merge_date_in_every_fresh_clone(hub: Hub):
    hub.push("1.0.0")
    hub.merge({ENTRY: entry(hub.repository, [("1.0.0", ":1.0.0")])}, "add tool")
    publish(hub)
    first = locked(hub)["1.0.0"]["resolved"]
    time.sleep(1.1)  # dates have seconds
    digest = hub.push("1.1.0", content=1)
    hub.merge({ENTRY: entry(hub.repository, [("1.1.0", ":1.1.0"), ("1.0.0", ":1.0.0")])},
              "tool 1.1.0")
    time.sleep(1.1)
    site, _ = publish(hub)
    # an owner rewrites 1.1.0's ref to pin the digest it was published as: same publication
    hub.merge({ENTRY: entry(hub.repository, [("1.1.0", f"@{digest}"), ("1.0.0", ":1.0.0")])},
              "pin 1.1.0 by digest")
    time.sleep(1.1)
    again, _ = publish(hub)
    dates = {}
    for built in (site, again):
        document = json.loads((built / "site" / "api" / "v1" / "packages" /
                               "tool.json").read_text())
        dates[built] = {v["version"]: v["published"] for v in document["versions"]}
    assert dates[site]["1.0.0"] == dates[again]["1.0.0"] == first
    assert dates[site]["1.1.0"] == dates[again]["1.1.0"] > first
    assert locked(hub)["1.1.0"]["ref"] == f"{hub.repository}@{digest}"


def test_a_pr_whose_generator_accepts_a_bad_entry_is_still_rejected(hub: Hub):
    hub.push("1.0.0")
    bad = entry(hub.repository, [("'1.0'", ":1.0.0")])  # not a semantic version
    lenient = ("\n\ndef validate_index(index_dir, files=None, cache=None):  # accept anything\n"
               "    found = _strict(index_dir, files, cache)\n"
               "    found.problems.clear()\n    return found\n")
    validate = (REPO / "generator" / "validate.py").read_text().replace(
        "def validate_index(", "def _strict(") + lenient
    clone = hub.pull_request({ENTRY: bad, "generator/validate.py": validate})
    git(clone, "checkout", "-q", "pr/merge")
    code, out = run(clone, ["python -m generator validate"])
    assert code == 0, out  # the pull request's own generator would let the entry through
    git(clone, "checkout", "-q", "main")
    code, out = gate(clone)
    assert code == 1, out
    assert ("generator/validate.py:1:1: mixed pull request: it changes 1 index file(s) "
            f"({ENTRY}) and 1 other file(s) (generator/validate.py) [mixed]") in out
    # split in two: the code half is left to test.yml; the index half meets the base's rules
    code, out = gate(hub.pull_request({"generator/validate.py": validate}))
    assert code == 0 and "ok: code change: 1 file(s), judged by the tests" in out, out
    assert "ok: index change" not in out and "valid package" not in out
    code, out = gate(hub.pull_request({ENTRY: bad}))
    assert code == 1, out
    assert f"{ENTRY}:7:14: versions[0].version: '1.0' is not a semantic version" in out


def test_a_good_pr_passes_the_gate_and_pins_nothing_itself(hub: Hub):
    digest = hub.push("1.0.0")
    clone = hub.pull_request({ENTRY: entry(hub.repository, [("1.0.0", ":1.0.0")])})
    code, out = gate(clone)
    assert code == 0, out
    assert "ok: index change: 1 file(s) under index/" in out
    assert "ok: 0 changed, 1 new, 0 removed package(s); alice may make these changes" in out
    assert json.loads((clone / "index" / "lock.json").read_text())["packages"]["tool"][
        "1.0.0"]["digest"] == digest  # resolved in the gate's checkout, never committed


@dataclass(frozen=True)
class BadPr:
    """A pull request against a hub that published tool 1.0.0 (content 0, owner alice)."""

    name: str
    files: Callable[[Hub, str, str], dict[str, str | None]]  # (hub, published, other digest)
    line: Callable[[Hub, str, str], str]  # the one line the gate must print
    author: str = "alice"


def _lock_edit(hub: Hub, published: str, other: str) -> dict[str, str | None]:
    text = (hub.clone() / "index" / "lock.json").read_text()
    return {"index/lock.json": text.replace(published, other)}


def _moved(hub: Hub, published: str, other: str) -> str:
    return (f"{ENTRY}:8:10: versions[0].ref: tool 1.0.0 was published as {published}; it now "
            f"resolves to {other} (the tag moved or the ref changed) [immutable]")


def _mixed(name: str, path: str) -> BadPr:
    """The published entry touched (a comment) beside one file that is code."""
    return BadPr(name, lambda hub, _, __: {
        ENTRY: entry(hub.repository, [("1.0.0", ":1.0.0")]) + "# x\n", path: "exit 0\n"},
        lambda hub, _, __: (f"{path}:1:1: mixed pull request: it changes 1 index file(s) "
                            f"({ENTRY}) and 1 other file(s) ({path}) [mixed]"))


BAD_PRS = [
    BadPr("digest-by-ref",
          lambda hub, _, other: {ENTRY: entry(hub.repository, [("1.0.0", f"@{other}")])},
          _moved),
    BadPr("digest-by-other-tag",
          lambda hub, _, __: {ENTRY: entry(hub.repository, [("1.0.0", ":other")])}, _moved),
    BadPr("lock-edited", _lock_edit,
          lambda hub, _, __: ("index/lock.json:1:1: index/lock.json is written by the publish "
                              "workflow only; this pull request changes it [lock]")),
    _mixed("mixed-with-docs", "README.md"),
    _mixed("mixed-with-schema", "index/schema/v1.json"),
    _mixed("mixed-with-the-gate", ".github/scripts/gate.sh"),
    _mixed("mixed-with-the-generator", "generator/validate.py"),
    BadPr("version-deleted",
          lambda hub, _, __: {ENTRY: entry(hub.repository, [("1.1.0", ":other")])},
          lambda hub, _, __: (f"{ENTRY}:7:3: versions: published version 1.0.0 was deleted "
                              "[immutable]")),
    BadPr("not-an-owner",
          lambda hub, _, __: {ENTRY: entry(hub.repository, [("1.0.0", ":1.0.0")],
                                           owners="[alice, mallory]")},
          lambda hub, _, __: (f"{ENTRY}:4:9: owners: mallory is not an owner of tool "
                              "(owners: alice) [owner]"), author="mallory"),
]


@pytest.mark.parametrize("case", BAD_PRS, ids=[case.name for case in BAD_PRS])
def test_a_bad_pr_fails_the_gate_with_one_line(hub: Hub, case: BadPr):
    published = hub.push("1.0.0")
    other = hub.push("other", content=1)
    hub.merge({ENTRY: entry(hub.repository, [("1.0.0", ":1.0.0")])}, "add tool")
    publish(hub)
    code, out = gate(hub.pull_request(case.files(hub, published, other)), case.author)
    assert code == 1, out
    assert case.line(hub, published, other) in out.splitlines(), out
