"""Every template end to end: init → build (real toolchains) → push → run → event → publish.

Go, Cargo, Maven and npm download caches live in one folder per test run
(session fixture), so each module is fetched once per run; each template is
built once.
Runs as root: the programs load into the real kernel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecli_process import ecli_command, run_ecli, touch_unique

WORK = Path(__file__).resolve().parents[1]
TEMPLATES = ["bpf", "c-libbpf", "go-cilium", "rust-libbpf", "python", "java", "typescript",
             "eunomia"]
MULTI_PLATFORM = {"bpf", "go-cilium", "eunomia"}
BUILD_OUTPUTS = ("build", "target", "dist", "node_modules")  # what a build writes


@pytest.fixture(scope="session")
def toolchain_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Go, Cargo, Maven and npm caches shared by every build of this run (downloaded once)."""
    root = tmp_path_factory.mktemp("toolchain-caches")
    env = dict(os.environ)
    env.update({"GOMODCACHE": str(root / "gomod"), "GOCACHE": str(root / "gocache"),
                "GOPATH": str(root / "gopath"), "CARGO_HOME": str(root / "cargo"),
                "GOFLAGS": "-modcacherw", "MAVEN_OPTS": f"-Dmaven.repo.local={root / 'm2'}",
                "npm_config_cache": str(root / "npm")})
    yield env


@pytest.fixture
def index_checkout(tmp_path: Path) -> Path:
    """A git repository shaped like the hub: index/, mkdocs.yml and the generator."""
    top = tmp_path / "hub"
    top.mkdir()
    shutil.copytree(WORK / "index", top / "index")
    shutil.copytree(WORK / "generator", top / "generator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(WORK / "mkdocs.yml", top / "mkdocs.yml")
    git = ["git", "-C", str(top), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "index"], check=True)
    return top


def ecli_json(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> dict:
    result = run_ecli(*args, "--json", env=env, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def run_until_event(ref: str, tag: str, env: dict[str, str] | None = None) -> str:
    """`ecli run REF`, wait for "attached", open a unique file, return the line showing it."""
    process = subprocess.Popen(ecli_command("run", "--yes", ref), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env,
                               start_new_session=True)
    try:
        assert process.stderr is not None and process.stdout is not None
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            assert line, f"exited before attaching: {''.join(seen)}"
            seen.append(line)
            if "attached" in line:
                break
        os.set_blocking(process.stdout.fileno(), False)
        buffered = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            probe = touch_unique(Path("/tmp"), tag)
            probe.unlink()
            time.sleep(0.3)
            buffered += process.stdout.read() or ""
            for line in buffered.splitlines():
                if probe.name in line:
                    return line
        raise AssertionError(f"no event for {tag}: {buffered[-2000:]}")
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.root
@pytest.mark.registry
@pytest.mark.parametrize("template", TEMPLATES)
def test_template_end_to_end(template: str, tmp_path: Path, registry, toolchain_env,
                             index_checkout: Path) -> None:
    name = f"tpl-{template}"
    project = tmp_path / name
    created = ecli_json("init", str(project), "--template", template, "--owner", "tester")
    assert "ecli.toml" in created["files"] and ".gitignore" in created["files"]
    assert ".github/workflows/build.yml" in created["files"]
    for required in ("README.md", "Dockerfile", "LICENSE"):
        assert (project / required).is_file()

    built = ecli_json("build", str(project), env=toolchain_env)
    expected = ["linux/amd64", "linux/arm64"] if template in MULTI_PLATFORM else ["linux/amd64"]
    assert built["platforms"] == expected
    # Reproducible: the same sources, copied to a folder of another name and depth
    # without any build output, give the same digest.
    elsewhere = tmp_path / "elsewhere" / "deeper" / name
    shutil.copytree(project, elsewhere, ignore=shutil.ignore_patterns(*BUILD_OUTPUTS))
    again = ecli_json("build", str(elsewhere), env=toolchain_env)
    assert again["digest"] == built["digest"], "another folder gives another digest"

    ref = f"{registry.host}/templates/{name}:0.1.0"
    pushed = ecli_json("push", ref, "--dir", str(project))
    assert pushed["digest"] == built["digest"]

    line = run_until_event(ref, name)
    assert line.strip()

    result = run_ecli("publish", "--index", str(index_checkout), "--ref", ref, "--no-pr",
                      str(project))
    assert result.returncode == 0, result.stderr
    entry = (index_checkout / "index" / "packages" / f"{name}.yaml").read_text()
    assert f"ref: {ref}@{built['digest']}" in entry
    branch = subprocess.run(["git", "-C", str(index_checkout), "branch", "--show-current"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert branch == f"publish/{name}-0.1.0"
    assert "gh pr create" in result.stdout
    validate = subprocess.run(
        [sys.executable, "-m", "generator", "validate", "--index", "index"],
        cwd=index_checkout, capture_output=True, text=True)
    assert validate.returncode == 0, validate.stdout + validate.stderr
