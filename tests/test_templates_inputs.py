"""ecli init / build / publish on bad input: one-line errors, nothing half-written."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest
import test_templates
import yaml

from ecli.develop import bundle_archive
from ecli.errors import BuildError

from ecli_process import run_ecli

TEMPLATES = test_templates.TEMPLATES
index_checkout = test_templates.index_checkout  # the same fixture, shared


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("ecli: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def git(top: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(top), *args], capture_output=True, text=True,
                          check=True).stdout


def test_list_shows_every_template() -> None:
    result = run_ecli("init", "--list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {t["name"]: t["kind"] for t in json.loads(result.stdout)}
    assert set(listed) == set(TEMPLATES) and len(listed) == 8
    assert listed["bpf"] == "bpf" and listed["eunomia"] == "eunomia-json"
    assert {listed[t] for t in TEMPLATES if t not in ("bpf", "eunomia")} == {"bundle"}


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_every_placeholder(template: str, tmp_path: Path) -> None:
    result = run_ecli("init", str(tmp_path / "my-tool"), "-t", template, "--owner", "someone")
    assert result.returncode == 0, result.stderr
    for path in (tmp_path / "my-tool").rglob("*"):
        if path.is_file():
            text = path.read_text()
            leftover = [w for w in ("{{name}}", "{{ident}}", "{{description}}", "{{owner}}",
                                    "{{run}}", "{{ci_setup}}", "{{layout}}") if w in text]
            assert not leftover, f"{path}: {leftover}"
    workflow = (tmp_path / "my-tool" / ".github" / "workflows" / "build.yml").read_text()
    assert "${{ github.repository_owner }}" in workflow
    # a release is signed keyless with the workflow's own OIDC identity, by digest
    jobs = yaml.safe_load(workflow)
    assert jobs["permissions"]["id-token"] == "write"
    steps = jobs["jobs"]["build"]["steps"]
    signing = [s for s in steps if "cosign sign --yes \"$PACKAGE@$digest\"" in s.get("run", "")]
    assert len(signing) == 1 and signing[0]["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert any(s.get("uses", "").startswith("sigstore/cosign-installer@") for s in steps)
    assert 'name = "my-tool"' in (tmp_path / "my-tool" / "ecli.toml").read_text()


@pytest.mark.parametrize(("args", "needle"), [
    (["-t", "cobol"], "unknown template 'cobol'"),
    (["--name", "Bad_Name"], "not a valid package name"),
    (["--description", 'say "hi"'], "one line without quotes"),
    (["--owner=-nobody"], "not a GitHub handle"),
])
def test_init_refuses_bad_input(args: list[str], needle: str, tmp_path: Path) -> None:
    line = one_line_error(run_ecli("init", str(tmp_path / "tool"), *args), code=2)
    assert needle in line
    assert not (tmp_path / "tool").exists()
    assert not [p for p in tmp_path.iterdir()], "a staging folder was left behind"


def test_init_never_writes_into_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "tool").mkdir()
    (tmp_path / "tool" / "mine.txt").write_text("keep")
    line = one_line_error(run_ecli("init", str(tmp_path / "tool")), code=2)
    assert "not an empty folder" in line
    assert [p.name for p in (tmp_path / "tool").iterdir()] == ["mine.txt"]


@pytest.mark.parametrize("name", ["tool", "std", "cmd", "all"])
def test_a_go_project_may_take_a_name_go_reserves(name: str, tmp_path: Path) -> None:
    """`go build` refuses a module named like a Go pattern ("tool" is not an importable
    package): the template's module path is never the bare name."""
    project = tmp_path / name
    assert run_ecli("init", str(project), "-t", "go-cilium").returncode == 0
    listed = subprocess.run(["go", "list", "-e", "-f", "{{.ImportPath}} {{.Error}}", "."],
                            cwd=project, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[0] == f"example.com/{name}", listed.stdout


def test_init_needs_a_folder() -> None:
    assert "needs a folder" in one_line_error(run_ecli("init"), code=2)


@pytest.mark.parametrize(("toml_edit", "needle"), [
    (('language = "c"', 'language = "cobol"'), "does not fit kind"),
    (('platforms = ["linux/amd64"]', 'platforms = ["linux/riscv64"]'), "cannot build for"),
    (('platforms = ["linux/amd64"]', 'platforms = ["windows/amd64"]'), "is not linux/ARCH"),
    (("[build]", "[build]\ncache = true"), "unknown field build.cache"),
    (("[index]", "[index]\nstars = 5"), "unknown field index.stars"),
])
def test_build_refuses_bad_manifests(toml_edit: tuple[str, str], needle: str,
                                     tmp_path: Path) -> None:
    project = tmp_path / "tool"
    assert run_ecli("init", str(project), "-t", "c-libbpf").returncode == 0
    manifest = project / "ecli.toml"
    manifest.write_text(manifest.read_text().replace(*toml_edit))
    assert needle in one_line_error(run_ecli("build", str(project)))
    assert not (project / "build" / "oci").exists()


@pytest.mark.parametrize(("platform", "says"), [
    ("linux/riscv64", "ecli build --platform: the c toolchain cannot build for linux/riscv64"),
    ("darwin/arm64", "ecli build --platform: 'darwin/arm64' is not linux/ARCH"),
    ("linux/arm64/v8", "ecli build --platform: 'linux/arm64/v8' is not linux/ARCH"),
    ("linux/", "ecli build --platform: 'linux/' is not a platform like linux/amd64"),
])
def test_build_platform_flag_refuses_what_cannot_be_built(platform: str, says: str,
                                                          tmp_path: Path) -> None:
    project = tmp_path / "tool"
    assert run_ecli("init", str(project), "-t", "c-libbpf").returncode == 0
    assert says in one_line_error(run_ecli("build", str(project), "--platform", platform))
    assert not (project / "build").exists()


def test_bundle_archive_is_reproducible_and_refuses_escapes(tmp_path: Path) -> None:
    program = tmp_path / "prog"
    program.write_bytes(b"#!/bin/sh\necho hi\n")
    first = bundle_archive.write(tmp_path / "a.tar.gz", {"bin/tool": program})
    program.touch()  # a newer mtime changes nothing
    second = bundle_archive.write(tmp_path / "b.tar.gz", {"bin/tool": program})
    assert first.read_bytes() == second.read_bytes()
    assert gzip.decompress(first.read_bytes())  # a real gzip stream
    with pytest.raises(BuildError, match="relative"):
        bundle_archive.write(tmp_path / "c.tar.gz", {"../tool": program})
    with pytest.raises(BuildError, match="did not produce"):
        bundle_archive.write(tmp_path / "d.tar.gz", {"bin/tool": tmp_path / "missing"})
    assert not (tmp_path / "c.tar.gz").exists() and not (tmp_path / "d.tar.gz").exists()


@pytest.fixture
def bpf_project(tmp_path: Path) -> Path:
    project = tmp_path / "pub-tool"
    assert run_ecli("init", str(project), "-t", "bpf", "--owner", "tester").returncode == 0
    return project


def build_and_push(project: Path, ref: str) -> str:
    """`ecli build` then `ecli push` of the project to `ref`; the digest pushed."""
    built = run_ecli("build", str(project), "--json", timeout=300)
    assert built.returncode == 0, built.stderr
    pushed = run_ecli("push", ref, "--dir", str(project), "--json")
    assert pushed.returncode == 0, pushed.stderr
    return json.loads(pushed.stdout)["digest"]


def set_version(project: Path, old: str, new: str) -> None:
    manifest = project / "ecli.toml"
    manifest.write_text(manifest.read_text().replace(f'version = "{old}"', f'version = "{new}"'))


def test_publish_adds_then_updates_an_entry(bpf_project: Path, index_checkout: Path,
                                            registry) -> None:
    ref = f"{registry.host}/tools/pub-tool:0.1.0"
    first = build_and_push(bpf_project, ref)
    result = run_ecli("publish", "--index", str(index_checkout), "--ref", ref, "--no-pr",
                      str(bpf_project))
    assert result.returncode == 0, result.stderr
    entry = index_checkout / "index" / "packages" / "pub-tool.yaml"
    assert f"ref: {ref}@{first}\n" in entry.read_text()  # pinned to what the registry holds
    git(index_checkout, "switch", "-q", "main")
    git(index_checkout, "merge", "-q", "publish/pub-tool-0.1.0")
    set_version(bpf_project, "0.1.0", "0.2.0")
    second_ref = ref.replace("0.1.0", "0.2.0")
    second = build_and_push(bpf_project, second_ref)
    result = run_ecli("publish", "--index", str(index_checkout), "--ref", second_ref,
                      "--no-pr", "--json", str(bpf_project))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] is False
    assert json.loads(result.stdout)["ref"] == f"{second_ref}@{second}"
    text = entry.read_text()
    assert text.index('"0.2.0"') < text.index('"0.1.0"')
    assert git(index_checkout, "diff", "--stat", "main", "HEAD").count("|") == 1


def test_publish_refuses_a_tag_the_registry_does_not_hold_as_this_version(
        bpf_project: Path, index_checkout: Path, registry) -> None:
    ref = f"{registry.host}/tools/never-pushed:0.1.0"  # the registry is shared: a new name
    before = git(index_checkout, "rev-parse", "HEAD")

    def refused(ref_text: str) -> str:
        line = one_line_error(run_ecli("publish", "--index", str(index_checkout), "--ref",
                                       ref_text, "--no-pr", str(bpf_project)))
        assert git(index_checkout, "rev-parse", "HEAD") == before
        assert "publish/" not in git(index_checkout, "branch")
        assert not (index_checkout / "index" / "packages" / "pub-tool.yaml").exists()
        return line

    # nothing pushed yet: the tag does not exist (once this committed an unpinned ref)
    assert refused(ref) == f"ecli: error: {ref}: the registry has no such tag"
    build_and_push(bpf_project, ref)
    # a tag that holds another version than ecli.toml's
    set_version(bpf_project, "0.1.0", "0.2.0")
    assert "the registry's artifact is version 0.1.0" in refused(ref)
    # the tag holds this version, but not the bytes the project built since: push again
    other = ref.replace("0.1.0", "0.2.0")
    pushed = build_and_push(bpf_project, other)
    manifest = bpf_project / "ecli.toml"
    manifest.write_text(manifest.read_text().replace("Trace openat()", "Show openat()"))
    rebuilt = run_ecli("build", str(bpf_project), "--json", timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["digest"] != pushed
    line = refused(other)
    assert f"the registry holds {pushed}, but this project's build of 0.2.0 is sha256:" in line
    # a digest the registry has never seen
    missing = f"{registry.host}/tools/never-pushed@sha256:{'ab' * 32}"
    assert refused(missing) == f"ecli: error: {missing}: the registry has no such digest"


def test_publish_refuses_a_version_already_listed(bpf_project: Path, index_checkout: Path,
                                                  registry) -> None:
    ref = f"{registry.host}/tools/pub-tool:0.1.0"
    build_and_push(bpf_project, ref)
    assert run_ecli("publish", "--index", str(index_checkout), "--ref", ref, "--no-pr",
                    str(bpf_project)).returncode == 0
    before = git(index_checkout, "rev-parse", "HEAD")
    line = one_line_error(run_ecli("publish", "--index", str(index_checkout), "--ref", ref,
                                   "--no-pr", "--branch", "again", str(bpf_project)))
    assert "already lists version 0.1.0" in line
    assert git(index_checkout, "rev-parse", "HEAD") == before
    assert "again" not in git(index_checkout, "branch")


def test_publish_leaves_nothing_when_validation_fails(bpf_project: Path,
                                                      index_checkout: Path, registry) -> None:
    ref = f"{registry.host}/tools/pub-tool:0.1.0"
    build_and_push(bpf_project, ref)
    manifest = bpf_project / "ecli.toml"
    manifest.write_text(manifest.read_text().replace('["observability"]', '["astrology"]'))
    result = run_ecli("publish", "--index", str(index_checkout), "--ref", ref, "--no-pr",
                      str(bpf_project))
    assert "validation refused" in one_line_error(result)
    assert "categories" in result.stderr
    assert not (index_checkout / "index" / "packages" / "pub-tool.yaml").exists()
    assert git(index_checkout, "branch", "--show-current").strip() == "main"
    assert "publish/" not in git(index_checkout, "branch")


@pytest.mark.parametrize(("where", "ref", "needle"), [
    ("nowhere", "127.0.0.1:5000/t/x:1", "no such folder"),
    ("plain", "127.0.0.1:5000/t/x:1", "not a git checkout"),
    ("checkout", "127.0.0.1:5000/t/x", "neither a tag nor a digest"),
    ("checkout", "not a ref", "reference"),
])
def test_publish_refuses_bad_targets(where: str, ref: str, needle: str, bpf_project: Path,
                                     index_checkout: Path, tmp_path: Path) -> None:
    folder = {"nowhere": tmp_path / "nowhere", "checkout": index_checkout}.get(where)
    if where == "plain":
        folder = tmp_path / "plain"
        folder.mkdir()
    result = run_ecli("publish", "--index", str(folder), "--ref", ref, str(bpf_project))
    assert result.returncode != 0
    assert needle in one_line_error(result, code=result.returncode)
    assert "publish/" not in git(index_checkout, "branch")
