"""`ecli build`: a real clang compile into an OCI layout, and its clear failures."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ecli.develop.build import build, load_project
from ecli.errors import BuildError
from ecli.oci import artifact, mediatypes
from ecli.oci.store import Store

from ecli_process import run_ecli


def ecli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_ecli(*args, env={**os.environ, **(env or {})})


def test_build_writes_a_tagged_artifact(make_bpf_project: Callable[..., Path]) -> None:
    project = make_bpf_project("buildtp", "1.2.3")
    result = build(project)
    assert result.object_path == project / "build" / "buildtp.bpf.o"
    assert result.object_path.read_bytes()[:4] == b"\x7fELF"
    assert (project / "build" / "vmlinux.h").is_file()
    store = Store(project / "build" / "oci")
    assert store.resolve_ref("1.2.3") == result.digest
    package = artifact.load(store, result.digest)
    config = package.config
    assert (config.name, config.version, config.kind, config.object) == (
        "buildtp", "1.2.3", "bpf", "buildtp.bpf.o")
    assert config.requirements.min_kernel == "5.8"
    assert config.requirements.program_types == ("tracepoint",)
    assert config.options["target_pid"].flag == "pid"
    assert package.manifest.artifact_type == mediatypes.ARTIFACT_TYPE
    assert package.manifest.annotations["org.opencontainers.image.licenses"] == "GPL-2.0-only"
    assert package.object_path is not None
    assert package.object_path.read_bytes() == result.object_path.read_bytes()
    # Building again changes nothing: same bytes, same digest.
    assert build(project).digest == result.digest


def test_compile_error_shows_the_compiler_output(make_bpf_project: Callable[..., Path]) -> None:
    project = make_bpf_project("broken", source="int oops( {\n")
    with pytest.raises(BuildError) as caught:
        build(project)
    assert "compiling broken.bpf.c failed" in caught.value.message
    assert "error:" in caught.value.message
    assert not (project / "build" / "broken.bpf.o").exists()
    assert not (project / "build" / "oci").exists()
    result = ecli("build", str(project))
    assert result.returncode == 1
    assert result.stderr.startswith("ecli: error: compiling broken.bpf.c failed")
    assert "Traceback" not in result.stderr


def test_missing_compiler_names_the_package(make_bpf_project: Callable[..., Path]) -> None:
    project = make_bpf_project("noclang")
    result = ecli("build", str(project), env={"PATH": "/nonexistent"})
    assert result.returncode == 1
    assert "clang is not installed" in result.stderr
    assert "apt-get install clang" in result.stderr


@pytest.mark.parametrize(("toml", "message"), [
    ("", "missing the [package] table"),
    ("[package]\nname = 'x'\nversion = '1'\nsource = 'x.bpf.c'\nflavour = 'y'\n",
     "unknown field package.flavour"),
    ("[package]\nname = 'x'\nversion = '1'\nsource = 'x.bpf.c'\n[extra]\n",
     "unknown field extra"),
    ("[package]\nname = 'X_bad'\nversion = '1'\nsource = 'x.bpf.c'\n",
     "not a valid package name"),
    ("[package]\nname = 'x'\nversion = '1.0+build'\nsource = 'x.bpf.c'\n",
     "cannot be an OCI tag"),
    ("[package]\nname = 'x'\nsource = 'x.bpf.c'\n", "missing field 'version'"),
    ("[package]\nname = 'x'\nversion = '1'\nsource = 'gone.bpf.c'\n", "does not exist"),
    ("[package]\nname = 'x'\nversion = '1'\nsource = 'x.bpf.c'\n[requirements]\n"
     "capabilities = 'CAP_BPF'\n", "must be list"),
    ("[package]\nname = 'x'\nversion = '1'\nsource = 'x.bpf.c'\n[options.pid]\nshort = 'p'\n",
     "unknown field options.pid.short"),
    ("[package\n", "not valid TOML"),
])
def test_bad_project_files(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "x.bpf.c").write_text("")
    (tmp_path / "ecli.toml").write_text(toml)
    with pytest.raises(BuildError) as caught:
        load_project(tmp_path)
    assert message in caught.value.message
    assert "ecli.toml" in caught.value.message


def test_cli_build_prints_what_it_built(make_bpf_project: Callable[..., Path]) -> None:
    project = make_bpf_project("printtp", "0.0.9")
    result = ecli("build", str(project))
    assert result.returncode == 0, result.stderr
    assert "built printtp 0.0.9 (bpf)" in result.stdout
    digest = Store(project / "build" / "oci").resolve_ref("0.0.9")
    assert digest is not None and digest in result.stdout
    result = ecli("build", str(project), "--json")
    assert json.loads(result.stdout)["digest"] == digest


def test_build_from_a_relative_folder(make_bpf_project: Callable[..., Path]) -> None:
    project = make_bpf_project("reltp", "0.1.0")
    result = run_ecli("build", project.name, cwd=project.parent)
    assert result.returncode == 0, result.stderr
    assert (project / "build" / "reltp.bpf.o").is_file()
