"""`python -m generator check-pr --base REF --author LOGIN`: one test per rule, in a real Git
repository made for the test (the base commit, then the pull request's working tree)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generator import lock
from generator.__main__ import main

REPO = Path(__file__).resolve().parent.parent
A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def entry(name: str, owners: str = "[alice]", versions: str = "") -> str:
    versions = versions or f"  - version: 1.0.0\n    ref: ghcr.io/alice/{name}:1.0.0\n"
    return (f"name: {name}\nkind: bpf\nsummary: a tool\nowners: {owners}\nlicense: MIT\n"
            f"versions:\n{versions}")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose base commit publishes `tool` 1.0.0 (owner alice) at digest A."""
    root = tmp_path / "hub"
    index = root / "index"
    shutil.copytree(REPO / "index" / "schema", index / "schema")
    (index / "packages").mkdir()
    (index / "packages" / "tool.yaml").write_text(entry("tool"))
    lock.write(index / "lock.json", {"tool": {"1.0.0": lock.Locked(
        "ghcr.io/alice/tool:1.0.0", A, "2026-01-01T00:00:00Z")}})
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "base")
    return root


def check(repo: Path, author: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-pr", "--index", str(repo / "index"), "--base", "main",
                 "--author", author])
    return code, capsys.readouterr().out


def tool(repo: Path) -> Path:
    return repo / "index" / "packages" / "tool.yaml"


def test_an_owner_may_add_a_version(repo: Path, capsys):
    tool(repo).write_text(entry("tool", versions=(
        "  - version: 1.1.0\n    ref: ghcr.io/alice/tool:1.1.0\n"
        "  - version: 1.0.0\n    ref: ghcr.io/alice/tool:1.0.0\n")))
    code, out = check(repo, "Alice", capsys)  # logins compare without case
    assert code == 0, out
    assert out == "ok: 1 changed, 0 new, 0 removed package(s); Alice may make these changes\n"


def test_someone_else_may_not_change_an_entry_even_to_add_themselves(repo: Path, capsys):
    tool(repo).write_text(entry("tool", owners="[alice, mallory]"))
    code, out = check(repo, "mallory", capsys)
    assert code == 1
    assert (f"{tool(repo)}:4:9: owners: mallory is not an owner of tool (owners: alice) "
            "[owner]") in out


def test_a_new_entry_must_list_its_author(repo: Path, capsys):
    new = repo / "index" / "packages" / "newtool.yaml"
    new.write_text(entry("newtool", owners="[bob]"))
    code, out = check(repo, "carol", capsys)
    assert code == 1
    assert (f"{new}:4:9: owners: a new package must list its author (carol) among its "
            "owners [owner]") in out
    code, out = check(repo, "bob", capsys)
    assert code == 0 and "0 changed, 1 new" in out


def test_a_published_version_cannot_be_deleted_but_can_be_yanked(repo: Path, capsys):
    tool(repo).write_text(entry("tool", versions=(
        "  - version: 1.1.0\n    ref: ghcr.io/alice/tool:1.1.0\n")))
    code, out = check(repo, "alice", capsys)
    assert code == 1
    assert f"{tool(repo)}:7:3: versions: published version 1.0.0 was deleted [immutable]" in out
    tool(repo).write_text(entry("tool", versions=(
        "  - version: 1.0.0\n    ref: ghcr.io/alice/tool:1.0.0\n"
        "    yanked: leaks file descriptors\n")))
    code, out = check(repo, "alice", capsys)
    assert code == 0, out


def test_a_published_package_cannot_be_deleted(repo: Path, capsys):
    tool(repo).unlink()
    code, out = check(repo, "alice", capsys)
    assert code == 1
    assert f"{tool(repo)}:1:1: a published package cannot be deleted [immutable]" in out


def test_the_ref_of_a_published_version_cannot_change_unless_it_pins_the_same_digest(
        repo: Path, capsys):
    tool(repo).write_text(entry("tool", versions=(
        "  - version: 1.0.0\n    ref: ghcr.io/alice/tool:other\n")))
    code, out = check(repo, "alice", capsys)
    assert code == 1
    assert (f"{tool(repo)}:8:10: versions[0].ref: the ref of published version 1.0.0 changed "
            "from 'ghcr.io/alice/tool:1.0.0' to 'ghcr.io/alice/tool:other' [immutable]") in out
    tool(repo).write_text(entry("tool", versions=(
        f"  - version: 1.0.0\n    ref: ghcr.io/alice/tool@{A}\n")))
    code, out = check(repo, "alice", capsys)
    assert code == 0, out


def test_a_moved_tag_fails_with_both_digests(repo: Path, capsys):
    lock.write(repo / "index" / "lock.json", {"tool": {"1.0.0": lock.Locked(
        "ghcr.io/alice/tool:1.0.0", B, "2026-02-01T00:00:00Z")}})
    tool(repo).write_text(tool(repo).read_text().replace("summary: a tool",
                                                         "summary: a better tool"))
    code, out = check(repo, "alice", capsys)
    assert code == 1
    assert (f"{tool(repo)}:8:10: versions[0].ref: tool 1.0.0 was published as {A}; it now "
            f"resolves to {B} (the tag moved or the ref changed) [immutable]") in out


def test_an_unknown_base_is_one_clear_problem(repo: Path, capsys):
    code = main(["check-pr", "--index", str(repo / "index"), "--base", "no-such-branch",
                 "--author", "alice"])
    out = capsys.readouterr().out
    assert code == 1
    assert "git rev-parse --verify failed" in out and "[git]" in out


def scope(repo: Path, head: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["scope", "--index", str(repo / "index"), "--base", "main", "--head", head])
    return code, capsys.readouterr().out


def on_branch(repo: Path, files: dict[str, str], renames: tuple[tuple[str, str], ...] = ()
              ) -> str:
    """Commit `files` (path -> text) and `renames` (old, new) on branch `pr`; its name."""
    git(repo, "checkout", "-q", "-b", "pr")
    for old, new in renames:
        (repo / new).parent.mkdir(parents=True, exist_ok=True)
        git(repo, "mv", old, new)
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "pr")
    return "pr"


def test_scope_names_an_index_change_and_a_code_change(repo: Path, capsys):
    code, out = scope(repo, on_branch(repo, {"index/packages/tool.yaml": entry(
        "tool", owners="[alice, bob]")}), capsys)
    assert (code, out) == (0, f"ok: index change: 1 file(s) under {repo / 'index'}/\n")
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-qD", "pr")
    code, out = scope(repo, on_branch(repo, {"index/schema/v1.json": "{}\n"}), capsys)
    assert (code, out) == (0, "ok: code change: 1 file(s), judged by the tests (test.yml), "
                              "not by the index gate\n")  # the schema is code


def test_a_rename_out_of_the_index_is_mixed(repo: Path, capsys):
    code, out = scope(repo, on_branch(repo, {}, (("index/packages/tool.yaml",
                                                   "docs/tool.md"),)), capsys)
    assert code == 1
    assert ("docs/tool.md:1:1: mixed pull request: it changes 1 index file(s) "
            "(index/packages/tool.yaml) and 1 other file(s) (docs/tool.md) [mixed]") in out


def test_scope_with_an_unknown_head_is_one_clear_problem(repo: Path, capsys):
    code, out = scope(repo, "no-such-branch", capsys)
    assert code == 1
    assert "git rev-parse --verify failed" in out and "[git]" in out
