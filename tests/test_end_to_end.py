"""The whole path once, for real: YAML entry → registry → site → `ecli run opensnoop`.

Registry up; opensnoop built and pushed; the index validated, resolved and
built; the built api/v1 served over HTTP on 127.0.0.1 and added as a
source; then `ecli run opensnoop` must report a file this test opens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ecli.oci.manifest import host_platform

from bpf_objects import ROOT
from ecli_process import RunningEcli, programs_left, run_ecli, touch_unique
from index_fixtures import serve

pytestmark = [pytest.mark.root, pytest.mark.registry]


def generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def hub(registry, tmp_path_factory):
    """A hub built from a copy of index/ whose opensnoop points at the test registry."""
    work = tmp_path_factory.mktemp("hub")
    env = {**os.environ, "ECLI_HOME": str(work / "publisher")}
    project = work / "opensnoop"
    shutil.copytree(ROOT / "examples" / "opensnoop", project,
                    ignore=shutil.ignore_patterns("build"))
    ref = f"{registry.host}/ebpfhub/opensnoop:0.1.0"
    built = run_ecli("build", str(project), env=env)
    assert built.returncode == 0, built.stderr
    pushed = run_ecli("push", ref, "--dir", str(project), "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    digest = json.loads(pushed.stdout)["digest"]

    index = work / "index"
    shutil.copytree(ROOT / "index", index, ignore=shutil.ignore_patterns("lock.json"))
    for other in (index / "packages").glob("*.yaml"):
        if other.name != "opensnoop.yaml":  # only opensnoop is pushed to this registry
            other.unlink()
    entry = index / "packages" / "opensnoop.yaml"
    entry.write_text(entry.read_text().replace("127.0.0.1:5000", registry.host))
    for step in (["validate", "--index", str(index)],
                 ["resolve", "--index", str(index)],
                 ["build", "--index", str(index), "--out", str(work / "site"), "--offline",
                  "--config", str(ROOT / "mkdocs.yml")]):
        result = generator(*step)
        assert result.returncode == 0, f"generator {step[0]}: {result.stdout}{result.stderr}"
    with serve(work / "site") as (base, _seen):
        yield {"url": base, "api": base + "api/v1/", "digest": digest, "site": work / "site"}


@pytest.fixture
def user_env(tmp_path, hub):
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "user")}
    assert run_ecli("sources", "add", "hub", hub["api"], env=env).returncode == 0
    assert run_ecli("update", env=env).returncode == 0
    return env


def test_lock_and_index_carry_the_pushed_digest(hub):
    document = json.loads((hub["site"] / "api/v1/packages/opensnoop.json").read_text())
    assert document["versions"][0]["digest"] == hub["digest"]


def test_ecli_run_opensnoop_from_the_hub_reports_a_real_open(hub, user_env, tmp_path):
    run = RunningEcli(["opensnoop", "--json", "--duration", "5", "--pid", str(os.getpid())],
                      env=user_env)
    run.wait_attached()
    opened = touch_unique(tmp_path, "e2e")
    out, err, code = run.finish()
    assert code == 0, err
    events = run.json_events(out)
    assert {"fname": str(opened), "pid": os.getpid()}.items() <= next(
        e for e in events if e["fname"] == str(opened)).items()
    assert programs_left(run.program_ids) == set()
    # the artifact is now in the store under its digest: the next run pulls nothing
    store = Path(user_env["ECLI_HOME"]) / "cache" / "oci" / "blobs" / "sha256"
    assert (store / hub["digest"].removeprefix("sha256:")).is_file()


def test_search_info_and_pull_through_the_hub(hub, user_env):
    hits = json.loads(run_ecli("search", "open", "--json", env=user_env).stdout)
    assert hits[0]["name"] == "opensnoop"
    info = json.loads(run_ecli("info", "opensnoop", "--json", env=user_env).stdout)
    assert info["versions"][0]["digest"] == hub["digest"]
    pulled = run_ecli("pull", "opensnoop@0.1.0", "--json", env=user_env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == hub["digest"]


def test_help_of_the_package_lists_its_options(hub, user_env):
    result = run_ecli("run", "opensnoop", "-h", env=user_env)
    assert result.returncode == 0, result.stderr
    assert "--pid N" in result.stdout and "trace only this process id" in result.stdout
    assert "--failed, --no-failed" in result.stdout


def test_unknown_package_and_version(hub, user_env):
    result = run_ecli("run", "no-such-package", env=user_env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        "ecli: error: no package named 'no-such-package' in any source (hub)")
    result = run_ecli("run", "opensnoop@9.9.9", env=user_env)
    assert result.returncode == 1
    assert "opensnoop has no version 9.9.9 (known: 0.1.0)" in result.stderr


def test_a_tampered_artifact_is_refused_and_nothing_is_stored(hub, registry, user_env):
    manifest = json.loads(registry.blob_data_path(hub["digest"]).read_bytes())
    if "manifests" in manifest:  # an image index (amd64 and arm64): this machine's manifest
        mine = next(m for m in manifest["manifests"]
                    if m["platform"]["architecture"] == host_platform().architecture)
        manifest = json.loads(registry.blob_data_path(mine["digest"]).read_bytes())
    layer = registry.blob_data_path(manifest["layers"][0]["digest"])
    original = layer.read_bytes()
    try:
        layer.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))
        result = run_ecli("run", "opensnoop", "--duration", "1", env=user_env)
    finally:
        layer.write_bytes(original)
    assert result.returncode == 1
    assert "digest" in result.stderr and "Traceback" not in result.stderr
    store = Path(user_env["ECLI_HOME"]) / "cache" / "oci" / "blobs" / "sha256"
    assert not (store / hub["digest"].removeprefix("sha256:")).exists()
