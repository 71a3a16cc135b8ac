"""ecli and oras-py, an independent OCI client, read each other's pushes from the real registry.

oras-py is no longer part of ecli (a [dev] dependency only): here it stands
for "any standard OCI client". It pulls what `ecli push` pushed (same files,
same digests); `ecli pull` and `ecli run` take an ecli-format package that
oras-py pushed; an artifact in oras's own default format is refused by ecli
with its one-line "not an eBPF package" error. And a pull in ecli's own
process imports neither oras nor requests.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import oras.client
import pytest

from ecli.oci import mediatypes
from ecli.oci.config import PackageConfig
from ecli.oci.manifest import Manifest, parse
from ecli.oci.store import Store

from ecli_process import run_ecli
from pm_fixtures import bundle_layout, bundle_tar, hello_script

pytestmark = pytest.mark.registry


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_oras_pulls_what_ecli_pushed(registry, env, tmp_path):
    layout = bundle_layout(tmp_path / "proj" / "build", "interop", "1.0.0")
    ref = f"{registry.host}/interop/by-ecli:1.0.0"
    pushed = run_ecli("push", ref, "--dir", str(tmp_path / "proj"), "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    digest = json.loads(pushed.stdout)["digest"]
    ours = parse(layout.read_blob(digest), digest)
    assert isinstance(ours, Manifest)

    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    theirs = client.get_manifest(ref)
    assert theirs["config"]["digest"] == ours.config.digest
    assert theirs["config"]["mediaType"] == mediatypes.PACKAGE_CONFIG
    assert [layer["digest"] for layer in theirs["layers"]] == [b.digest for b in ours.layers]
    files = client.pull(target=ref, outdir=str(tmp_path / "out"))
    assert [Path(f).name for f in files] == ["bundle.tar.gz"]
    assert _sha256(Path(files[0])) == ours.layers[0].digest
    assert Path(files[0]).read_bytes() == (tmp_path / "proj" / "build" / "bundle.tar.gz"
                                            ).read_bytes()


def test_ecli_runs_an_ecli_format_package_oras_pushed(registry, env, tmp_path, monkeypatch):
    folder = tmp_path / "by-oras"
    folder.mkdir()
    bundle_tar(folder / "bundle.tar.gz", {"bin/hello": (hello_script(), 0o755),
                                          "share/data.txt": (b"data\n", 0o644)})
    config = PackageConfig(name="orased", version="3.1.0", kind="bundle",
                           entrypoint=("bin/hello",))
    (folder / "config.json").write_bytes(config.to_json())
    monkeypatch.chdir(folder)  # oras-py wants paths under the working directory
    ref = f"{registry.host}/interop/by-oras:3.1.0"
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    client.push(target=ref, files=[f"bundle.tar.gz:{mediatypes.BUNDLE_TAR_GZIP}"],
                manifest_config=f"config.json:{mediatypes.PACKAGE_CONFIG}", quiet=True)

    pulled = run_ecli("pull", ref, "--json", env=env)
    assert pulled.returncode == 0, pulled.stderr
    info = json.loads(pulled.stdout)
    assert (info["name"], info["version"], info["kind"]) == ("orased", "3.1.0", "bundle")
    store = Store(Path(env["ECLI_HOME"]) / "cache" / "oci")
    manifest = parse(store.read_blob(info["digest"]), info["digest"])
    assert isinstance(manifest, Manifest)
    assert manifest.layers[0].digest == _sha256(folder / "bundle.tar.gz")
    assert run_ecli("run", "--yes", ref, "x", env=env).stdout.strip() == "hello 3.1.0 x"


def test_ecli_refuses_an_oras_default_artifact(registry, env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("not a package\n")
    ref = f"{registry.host}/interop/plain:1"
    oras.client.OrasClient(hostname=registry.host, insecure=True).push(
        target=ref, files=["notes.txt"], quiet=True)
    result = run_ecli("pull", ref, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(f"ecli: error: {ref}: not an eBPF package (config media "
                                    "type 'application/vnd.unknown.config.v1+json')")
    blobs = Path(env["ECLI_HOME"]) / "cache" / "oci" / "blobs"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


def test_a_pull_imports_neither_oras_nor_requests(registry, env, tmp_path):
    bundle_layout(tmp_path / "proj" / "build", "light", "1.0.0")
    ref = f"{registry.host}/interop/light:1.0.0"
    assert run_ecli("push", ref, "--dir", str(tmp_path / "proj"), env=env).returncode == 0
    code = ("import sys; from ecli.cli.main import main; code = main(['pull', sys.argv[1]]);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('oras', 'requests', 'urllib3')), code)")
    done = subprocess.run([sys.executable, "-c", code, ref], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[] 0", done.stderr
