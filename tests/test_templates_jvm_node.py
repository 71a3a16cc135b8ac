"""The java and typescript templates' builds on bad or partial input.

What `ecli build` packs from Maven's target/lib/ and from node_modules/ (the
run-time closure only), and the one-line errors when a toolchain is missing,
a pom.xml is broken, tsc finds an error or a dependency is not installed:
nothing is written to build/oci in any of them.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import test_templates
from test_templates_inputs import one_line_error

from ecli.develop import build, toolchains
from ecli.errors import BuildError
from ecli.oci.manifest import host_platform

from ecli_process import run_ecli

toolchain_env = test_templates.toolchain_env  # the same caches, shared


def write_package(folder: Path, **tables: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": folder.name, **tables}))
    (folder / "index.js").write_text("module.exports = {};\n")


def node_project(root: Path) -> Path:
    """A compiled project: koffi-like `a` with a scoped dependency and optional binaries."""
    write_package(root, dependencies={"a": "1"}, devDependencies={"typescript": "5"})
    modules = root / "node_modules"
    write_package(modules / "a", dependencies={"@s/b": "1"},
                  optionalDependencies={"a-linux-x64": "1", "a-win32-x64": "1"})
    write_package(modules / "@s" / "b")
    write_package(modules / "a-linux-x64")  # the optional one npm installed for this host
    write_package(modules / "a" / "node_modules" / "c")  # nested: a version clash
    write_package(modules / "typescript")
    for made in ("dist/main.js", "build/probe.bpf.o"):
        (root / made).parent.mkdir(parents=True, exist_ok=True)
        (root / made).write_text("made\n")
    return root


def test_node_bundle_takes_the_run_time_closure_only(tmp_path: Path) -> None:
    root = node_project(tmp_path / "tool")
    files = toolchains.language("typescript").outputs("tool", host_platform(), root)
    packages = {"/".join(p.split("/")[1:3]) if p.startswith("node_modules/@")
                else p.split("/")[1] for p in files if p.startswith("node_modules/")}
    assert packages == {"a", "@s/b", "a-linux-x64"}
    assert "node_modules/a/node_modules/c/index.js" in files
    assert files["bin/tool"] == "dist/main.js"
    assert files["lib/probe.bpf.o"] == "build/probe.bpf.o"


def test_node_bundle_names_a_dependency_that_is_not_installed(tmp_path: Path) -> None:
    root = node_project(tmp_path / "tool")
    write_package(root / "node_modules" / "a", dependencies={"gone": "1"})
    with pytest.raises(BuildError) as caught:
        toolchains.language("typescript").outputs("tool", host_platform(), root)
    assert "dependency gone is not installed" in caught.value.message
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(("text", "needle"), [
    ("{not json", "cannot read"), ("[]", "cannot read"), ("\udcff", "cannot read"),
    ('{"dependencies": {"../../etc": "1"}}', "'../../etc' is not an npm package name"),
    ('{"dependencies": {"/abs": "1"}}', "'/abs' is not an npm package name"),
])
def test_node_bundle_refuses_a_bad_package_json(text: str, needle: str,
                                                      tmp_path: Path) -> None:
    root = node_project(tmp_path / "tool")
    (root / "package.json").write_text(text, errors="surrogateescape")
    with pytest.raises(BuildError) as caught:
        toolchains.language("typescript").outputs("tool", host_platform(), root)
    assert needle in caught.value.message and "tool/package.json" in caught.value.message
    assert "\n" not in caught.value.message


def test_java_bundle_needs_maven_output(tmp_path: Path) -> None:
    (tmp_path / "target").mkdir()
    with pytest.raises(BuildError, match=r"did not produce .*target/lib"):
        toolchains.language("java").outputs("tool", host_platform(), tmp_path)


@pytest.mark.parametrize(("template", "language"), [("java", "java"),
                                                    ("typescript", "typescript")])
def test_language_is_guessed_from_the_project_files(template: str, language: str,
                                                    tmp_path: Path) -> None:
    project = tmp_path / "tool"
    assert run_ecli("init", str(project), "-t", template).returncode == 0
    manifest = project / "ecli.toml"
    manifest.write_text(manifest.read_text().replace(f'language = "{language}"\n', ""))
    assert build.load_project(project).language == language


def test_java_build_without_maven_names_it(tmp_path: Path) -> None:
    project = tmp_path / "tool"
    assert run_ecli("init", str(project), "-t", "java").returncode == 0
    tools = tmp_path / "bin"  # what `make` needs, and no mvn
    tools.mkdir()
    for name in ("make", "clang", "mkdir", "mv", "uname", "sed"):
        found = shutil.which(name)
        assert found, name
        (tools / name).symlink_to(found)
    result = run_ecli("build", str(project), env={**os.environ, "PATH": str(tools)}, timeout=120)
    line = one_line_error(result)
    assert "mvn is not installed (needed to build tool)" in line
    assert "maven" in result.stderr.split("\n", 1)[1]  # the hint names the package
    assert not (project / "build" / "oci").exists()


@pytest.mark.parametrize(("template", "path", "edit", "needle"), [
    ("java", "pom.xml", ("<dependencies>", "<dependencies><broken>"), "Non-parseable POM"),
    ("typescript", "src/main.ts", ("const COMM_LEN = 16;", 'const COMM_LEN: number = "16";'),
     "src/main.ts("),
])
def test_a_failed_language_build_is_named_and_writes_nothing(
        template: str, path: str, edit: tuple[str, str], needle: str, tmp_path: Path,
        toolchain_env: dict[str, str]) -> None:
    project = tmp_path / "tool"
    assert run_ecli("init", str(project), "-t", template).returncode == 0
    source = project / path
    assert edit[0] in source.read_text()
    source.write_text(source.read_text().replace(*edit))
    result = run_ecli("build", str(project), env=toolchain_env, timeout=600)
    line = one_line_error(result)
    assert "failed in" in line and str(project) in line
    assert needle in result.stderr
    assert not (project / "build" / "oci").exists()
