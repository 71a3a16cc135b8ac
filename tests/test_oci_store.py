"""The local store (an OCI layout), manifests, artifacts and references: no network."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecli.errors import (
    ArtifactError,
    BuildError,
    DigestMismatchError,
    NotFoundError,
    ReferenceError_,
)
from ecli.oci import artifact, mediatypes, reference
from ecli.oci import registry as oci_registry
from ecli.oci.config import PackageConfig
from ecli.oci.manifest import Descriptor, ImageIndex, Manifest, Platform, parse, sha256_digest
from ecli.oci.store import Store

from bumblebee import write_bumblebee

OBJECT_BYTES = b"\x7fELF" + bytes(range(256)) * 8


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def leftovers(store: Store) -> list[Path]:
    tmp = store.root / ".tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def make_package(tmp_path: Path, name: str = "demo", version: str = "1.0.0") -> tuple[
        Store, Descriptor, Path]:
    obj = tmp_path / f"{name}.bpf.o"
    obj.write_bytes(OBJECT_BYTES)
    store = Store(tmp_path / "layout")
    config = PackageConfig(name=name, version=version, kind="bpf", object=obj.name,
                           description="a demo")
    return store, artifact.create(store, config, [obj], tag=version), obj


# -- blobs ----------------------------------------------------------------------


def test_write_and_read_blob(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = store.write_blob(b"hello")
    assert digest == digest_of(b"hello")
    assert store.has(digest)
    assert store.read_blob(digest, verify=True) == b"hello"
    assert store.blob_path(digest) == tmp_path / "blobs" / "sha256" / digest[7:]
    assert json.loads((tmp_path / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads(store.index_path.read_text())["manifests"] == []


def test_write_blob_from_chunks_with_expected_digest(tmp_path: Path) -> None:
    store = Store(tmp_path)
    data = b"abc" * 100_000
    chunks = (data[i:i + 4096] for i in range(0, len(data), 4096))
    assert store.write_blob(chunks, digest_of(data), expected_size=len(data)) == digest_of(data)
    assert store.read_blob(digest_of(data)) == data
    assert leftovers(store) == []


def test_digest_mismatch_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    expected = digest_of(b"what the manifest promised")
    with pytest.raises(DigestMismatchError) as caught:
        store.write_blob([b"something ", b"else"], expected)
    assert expected in str(caught.value)
    assert digest_of(b"something else") in str(caught.value)
    assert not store.has(expected)
    assert not store.has(digest_of(b"something else"))
    assert leftovers(store) == []


def test_size_limits(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(DigestMismatchError, match="more than the 3 bytes"):
        store.write_blob(b"four", expected_size=3)
    with pytest.raises(DigestMismatchError, match="got 4 bytes, expected 5"):
        store.write_blob(b"four", expected_size=5)
    with pytest.raises(DigestMismatchError):
        store.write_blob(iter([b"x" * 10] * 10), max_size=50)
    assert leftovers(store) == []


def test_read_blob_detects_corruption_on_disk(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = store.write_blob(b"pristine")
    store.blob_path(digest).write_bytes(b"tampered")
    assert store.read_blob(digest) == b"tampered"  # cheap read trusts the file name
    with pytest.raises(DigestMismatchError, match="corrupted"):
        store.read_blob(digest, verify=True)


@pytest.mark.parametrize("bad", ["sha256:../../etc/passwd", "md5:abc", "sha256:ABC", ""])
def test_blob_path_rejects_bad_digests(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ArtifactError):
        Store(tmp_path).blob_path(bad)


def test_missing_blob_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        Store(tmp_path).read_blob(digest_of(b"never written"))


# -- refs -----------------------------------------------------------------------


def test_refs_add_move_remove(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = store.write_blob(b'{"one": 1}')
    second = store.write_blob(b'{"two": 2}')
    assert store.resolve_ref("latest") is None
    store.add_ref("latest", first)
    store.add_ref("1.0", first)
    assert store.resolve_ref("latest") == first
    store.add_ref("latest", second)  # moving a tag replaces it
    assert store.resolve_ref("latest") == second
    assert [d.annotations["org.opencontainers.image.ref.name"] for d in store.refs()] == [
        "1.0", "latest"]
    assert store.ref_names(first) == ["1.0"]
    assert store.remove_ref("1.0") and not store.remove_ref("1.0")
    assert store.resolve_ref("1.0") is None
    with pytest.raises(NotFoundError):
        store.add_ref("ghost", digest_of(b"not stored"))


def _add_refs(root: str, worker: int, count: int) -> None:
    store = Store(Path(root))
    for i in range(count):
        digest = store.write_blob(f"{worker}-{i}".encode())
        store.add_ref(f"w{worker}-{i}", digest)


def test_concurrent_writers_lose_no_ref(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_add_refs, args=(str(tmp_path), w, 25)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(30)
        assert process.exitcode == 0
    names = {d.annotations["org.opencontainers.image.ref.name"] for d in Store(tmp_path).refs()}
    assert names == {f"w{w}-{i}" for w in range(4) for i in range(25)}


# -- artifacts ------------------------------------------------------------------


def test_taking_the_lock_removes_only_what_dead_writers_left(tmp_path: Path) -> None:
    """Temporary names carry their writer's pid: a live writer's stays; a dead one's goes,
    and so does one whose pid now belongs to a process started after it was written."""
    store = Store(tmp_path / "oci")
    store.ensure()
    tmp = tmp_path / "oci" / ".tmp"
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "30"])
    try:
        (tmp / f"blob~{live.pid}~writing").write_bytes(b"live")
        (tmp / f"blob~{dead.pid}~left").write_bytes(b"dead")
        reused = tmp / f"blob~{live.pid}~older-than-its-process"
        reused.write_bytes(b"pid reused")
        os.utime(reused, (1_000_000_000, 1_000_000_000))
        (tmp / f"load~{dead.pid}~scratch").mkdir()
        (tmp / f"load~{dead.pid}~scratch" / "blob").write_bytes(b"x")
        (tmp / "blob-unmarked").write_bytes(b"old style: prune's, after its grace period")
        Store(tmp_path / "oci").add_ref("x:1", store.write_blob(b"{}"))
        assert sorted(p.name for p in tmp.iterdir()) == ["blob-unmarked",
                                                          f"blob~{live.pid}~writing"]
    finally:
        live.kill()
        live.wait()


def test_create_artifact_layout(tmp_path: Path) -> None:
    store, descriptor, obj = make_package(tmp_path)
    raw = store.read_blob(descriptor.digest, verify=True)
    data = json.loads(raw)
    assert data["mediaType"] == mediatypes.OCI_MANIFEST
    assert data["artifactType"] == mediatypes.ARTIFACT_TYPE
    assert data["config"]["mediaType"] == mediatypes.PACKAGE_CONFIG
    [layer] = data["layers"]
    assert layer["mediaType"] == mediatypes.BPF_OBJECT
    assert layer["annotations"] == {mediatypes.ANNOTATION_TITLE: "demo.bpf.o"}
    assert layer["digest"] == digest_of(OBJECT_BYTES) and layer["size"] == len(OBJECT_BYTES)
    assert store.resolve_ref("1.0.0") == descriptor.digest
    # Same inputs, same digest: builds are reproducible.
    again = artifact.create(Store(tmp_path / "other"), artifact.load(store, descriptor.digest)
                            .config, [obj])
    assert again.digest == descriptor.digest


@pytest.mark.parametrize(("data", "sha256"), [
    ({"name": "tool", "version": "1.2.0", "kind": "bpf", "object": "tool.bpf.o",
      "description": "d", "platforms": ["linux/amd64"],
      "options": {"min_us": {"flag": "--min-us", "description": "only slower"}},
      "output": {"fields": {"ret": "errno"}, "units": {"lat": "usecs"}, "event_type": "event",
                 "event_btf": "tool.events.btf"},
      "requirements": {"min_kernel": "5.8", "features": ["ringbuf"], "capabilities": ["CAP_BPF"]},
      "metrics": {"lat": {"kind": "histogram", "sum": "total", "scale": 1e-6, "labels": {
          "cpu": "hex",
          "op": {"decoder": "static", "name": "operation", "values": {"1": "read"}}}}},
      "run_options": []},
     "8ff112800af2cf53e3b0a5a67dd9514c4b0537e9621710818736d9f5118183b7"),
    ({"name": "w", "version": "0", "kind": "wasm", "object": "m.wasm"},
     "425729a9d36d016809c263ef89428c797cfae9f54495c9cf2df804a2d45ec5de"),
    ({"name": "b", "version": "1", "kind": "bundle", "entrypoint": ["run.sh"],
      "run_options": ["json"]},
     "e23911d399be20ccb38a1b566462f3b7e1a54d6bc9497414f9766e2d63ae02b4"),
])
def test_package_config_bytes_are_the_published_format(data: dict, sha256: str) -> None:
    """The config blob's bytes are part of every package's digest (docs/formats.md): nested
    records are written as objects with every field, and the digests pinned here are those
    the config's writer produced before its records became named tuples."""
    config = PackageConfig.from_dict(data, "p.json")
    raw = config.to_json()
    assert hashlib.sha256(raw).hexdigest() == sha256
    assert PackageConfig.from_json(raw, "p.json") == config
    written = json.loads(raw)
    assert written["requirements"]["btf"] is True and isinstance(written["output"], dict)
    assert ("metrics" in written) == bool(data.get("metrics"))


def test_a_config_made_in_code_writes_its_defaults_as_a_parsed_one_does() -> None:
    """Bumblebee and wasm configs are made in code, with the records' shared read-only
    defaults: they are written as the same bytes as the same config parsed."""
    made = PackageConfig(name="w", version="0", kind="wasm", object="m.wasm")
    assert made.to_json() == PackageConfig.from_json(made.to_json(), "p.json").to_json()
    assert hashlib.sha256(made.to_json()).hexdigest() == (
        "425729a9d36d016809c263ef89428c797cfae9f54495c9cf2df804a2d45ec5de")


def test_load_artifact(tmp_path: Path) -> None:
    store, descriptor, _ = make_package(tmp_path)
    package = artifact.load(store, descriptor.digest)
    assert package.config.name == "demo" and package.config.kind == "bpf"
    assert package.object_path is not None
    assert package.object_path.read_bytes() == OBJECT_BYTES
    assert package.format == artifact.FORMAT_EBPFHUB
    found = artifact.find(store, reference.parse("example.org/demo:1.0.0"))
    assert found is None  # tags in a build layout are bare versions, not references


def test_skopeo_reads_the_layout(tmp_path: Path) -> None:
    store, descriptor, _ = make_package(tmp_path)
    result = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{store.root}:1.0.0"],
                            capture_output=True, text=True, check=True)
    assert sha256_digest(result.stdout.encode()) == descriptor.digest
    # A full reference works as a ref name too (that is how `ecli pull` records them).
    store.add_ref("127.0.0.1:5000/org/demo:1.0.0", descriptor.digest)
    result = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci:{store.root}:127.0.0.1:5000/org/demo:1.0.0"],
        capture_output=True, text=True, check=True)
    assert json.loads(result.stdout)["artifactType"] == mediatypes.ARTIFACT_TYPE


def test_bumblebee_artifact_runs_as_bpf(tmp_path: Path) -> None:
    store = Store(tmp_path)
    digest = write_bumblebee(store, OBJECT_BYTES, "from bee")
    package = artifact.load(store, digest,
                            reference=reference.parse("ghcr.io/solo-io/tcpconnect_v2:0.2"))
    assert package.format == artifact.FORMAT_BUMBLEBEE
    assert (package.config.name, package.config.version) == ("tcpconnect-v2", "0.2")
    assert package.config.kind == "bpf" and package.config.object == "program.o"
    assert package.config.description == "from bee"
    assert package.object_path is not None
    assert package.object_path.read_bytes() == OBJECT_BYTES


def test_load_refuses_what_is_not_a_package(tmp_path: Path) -> None:
    store = Store(tmp_path)
    config = store.write_blob(b"{}")
    manifest = Manifest(mediatypes.OCI_MANIFEST,
                        Descriptor("application/vnd.oci.image.config.v1+json", config, 2), ())
    digest = store.write_blob(manifest.to_json())
    with pytest.raises(ArtifactError, match="not an eBPF package"):
        artifact.load(store, digest)


def test_load_refuses_a_package_without_its_object(tmp_path: Path) -> None:
    store = Store(tmp_path)
    config = PackageConfig(name="x", version="1", kind="bpf", object="x.bpf.o").to_json()
    manifest = Manifest(mediatypes.OCI_MANIFEST,
                        Descriptor(mediatypes.PACKAGE_CONFIG, store.write_blob(config),
                                   len(config)), ())
    with pytest.raises(ArtifactError, match="no eBPF object layer"):
        artifact.load(store, store.write_blob(manifest.to_json()))


def test_image_index_selects_the_host_platform(tmp_path: Path) -> None:
    _, descriptor, _ = make_package(tmp_path)
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [
        {**descriptor.to_dict(), "platform": {"os": "linux", "architecture": "s390x"}},
        {**descriptor.to_dict(), "platform": {"os": "linux", "architecture": "amd64"}},
        {**descriptor.to_dict(), "platform": {"os": "linux", "architecture": "arm64"}},
    ]}
    parsed = parse(json.dumps(index).encode(), "test")
    assert isinstance(parsed, ImageIndex)
    assert parsed.select(Platform("linux", "arm64")).platform == Platform("linux", "arm64")
    with pytest.raises(ArtifactError, match="no manifest for linux/riscv64"):
        parsed.select(Platform("linux", "riscv64"))


# -- platform text ("os/arch[/variant]") -----------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("linux/amd64", Platform("linux", "amd64")),
    ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
    ("linux/ppc64le", Platform("linux", "ppc64le")),
    ("windows/386", Platform("windows", "386")),
])
def test_platform_text_parses(text: str, expected: Platform) -> None:
    assert Platform.parse(text, "here") == expected
    assert str(expected) == text  # the parser reads what str() writes


@pytest.mark.parametrize("text", [
    "", "linux", "linux/", "/amd64", "linux//amd64", "linux/amd64/", "linux/arm64/v8/x",
    "Linux/AMD64", "linux/amd 64", "linux/-amd64", "linux/amd64\n", "linux/\x1b[31m",
])
def test_bad_platform_text_is_one_line_naming_where(text: str) -> None:
    with pytest.raises(ArtifactError) as raised:
        Platform.parse(text, "demo: package config platforms")
    message = str(raised.value)
    assert message == (f"demo: package config platforms: {text!r} is not a platform "
                       "like linux/amd64 or linux/arm64/v8")
    assert "\n" not in message


def test_bad_platform_text_raises_the_callers_error_class() -> None:
    with pytest.raises(BuildError, match=r"^ecli build --platform: 'linux' is not a platform"):
        Platform.parse("linux", "ecli build --platform", BuildError)


def test_served_platforms_reads_the_package_config_and_refuses_bad_text(tmp_path: Path) -> None:
    store, descriptor, _ = make_package(tmp_path)
    package = artifact.load(store, descriptor.digest)
    item = oci_registry.PlatformManifest(descriptor.digest, None, package.manifest)
    declared = package._replace(config=package.config._replace(
        platforms=("linux/amd64", "linux/arm64/v8")))
    assert oci_registry.served_platforms(item, declared) == [
        Platform("linux", "amd64"), Platform("linux", "arm64", "v8")]
    bad = package._replace(config=package.config._replace(platforms=("linux/amd64", "linux")))
    with pytest.raises(ArtifactError, match=(
            rf"^demo {descriptor.digest}: package config platforms: 'linux' is not a platform")):
        oci_registry.served_platforms(item, bad)
    indexed = item._replace(platform=Platform("linux", "s390x"))  # the index entry wins
    assert oci_registry.served_platforms(indexed, bad) == [Platform("linux", "s390x")]


# -- malformed manifests --------------------------------------------------------

GOOD_DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(("raw", "message"), [
    (b"not json", "not valid JSON"),
    (b"[]", "JSON object"),
    (b'{"schemaVersion": 1}', "schemaVersion"),
    (b'{"schemaVersion": 2, "mediaType": "text/plain"}', "unsupported manifest media type"),
    (b'{"schemaVersion": 2, "config": {}, "layers": []}', "no mediaType"),
    (json.dumps({"schemaVersion": 2, "layers": [], "config": {
        "mediaType": "x", "digest": "sha256:../../x", "size": 1}}).encode(), "not a sha256"),
    (json.dumps({"schemaVersion": 2, "layers": [], "config": {
        "mediaType": "x", "digest": GOOD_DIGEST, "size": -1}}).encode(), "byte count"),
    (json.dumps({"schemaVersion": 2, "config": {
        "mediaType": "x", "digest": GOOD_DIGEST, "size": 1}}).encode(), "no layers"),
    (b'{"schemaVersion": 2, "mediaType": "' + mediatypes.OCI_INDEX.encode() + b'"}',
     "no manifests"),
    (b" " * (4 << 20) + b"{}", "larger than"),
])
def test_malformed_manifests(raw: bytes, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        parse(raw, "example.org/x:1")


# -- references -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("ghcr.io/org/tool:1.0", ("ghcr.io", "org/tool", "1.0", None)),
    ("ghcr.io/org/tool", ("ghcr.io", "org/tool", "latest", None)),
    ("127.0.0.1:5000/tool:v2", ("127.0.0.1:5000", "tool", "v2", None)),
    ("localhost/a/b/c", ("localhost", "a/b/c", "latest", None)),
    (f"ghcr.io/org/tool@{GOOD_DIGEST}", ("ghcr.io", "org/tool", None, GOOD_DIGEST)),
    (f"ghcr.io/org/tool:1.0@{GOOD_DIGEST}", ("ghcr.io", "org/tool", "1.0", GOOD_DIGEST)),
    ("[::1]:5000/x:y", ("[::1]:5000", "x", "y", None)),
])
def test_references_that_parse(text: str, expected: tuple[str, str, str | None, str | None]
                               ) -> None:
    ref = reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected
    assert reference.parse(str(ref)) == ref


@pytest.mark.parametrize("text", [
    "",
    "tool",                              # no registry
    "ghcr.io/Org/tool:1",                # upper case repository
    "ghcr.io/org//tool",                 # empty component
    "ghcr.io/org/tool:",                 # empty tag
    "ghcr.io/org/tool:-bad",             # tag starting with '-'
    "ghcr.io/org/tool@sha256:1234",      # short digest
    "ghcr.io/org/tool@md5:" + "a" * 32,  # not sha256
    "ghcr.io/org tool",                  # space
    "bad_host.io/x",                     # underscore in host
])
def test_references_that_do_not(text: str) -> None:
    with pytest.raises(ReferenceError_):
        reference.parse(text)


def test_store_and_artifact_do_not_import_oras() -> None:
    """`ecli run` of a cached package reads the store; oras costs 0.33 s to import."""
    code = ("import sys, ecli.oci.store, ecli.oci.artifact, ecli.develop.build; "
            "print(any(m == 'oras' or m.startswith(('oras.', 'requests')) for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
