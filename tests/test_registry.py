"""Push and pull against a real registry (CNCF distribution), read back with skopeo."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ecli.develop.build import BuildResult, build
from ecli.errors import ArtifactError, DigestMismatchError, RegistryError
from ecli.oci import artifact, mediatypes, reference
from ecli.oci import registry as oci_registry
from ecli.oci.config import PackageConfig
from ecli.oci.manifest import Descriptor, Manifest, Platform, host_platform
from ecli.oci.store import Store

from bumblebee import push_bumblebee
from ecli_process import run_ecli
from registry_server import RegistryServer, free_port

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def built(make_bpf_project: Callable[..., Path]) -> BuildResult:
    """A real CO-RE object compiled by `ecli build`, packaged in its OCI layout."""
    return build(make_bpf_project("regtp", "0.3.0"))


@pytest.fixture(scope="module")
def pushed(built: BuildResult, registry: RegistryServer) -> reference.OciReference:
    ref = reference.parse(f"{registry.host}/ebpfhub/regtp:0.3.0")
    assert registry_push(built, ref) == built.digest
    return ref


def registry_push(built: BuildResult, ref: reference.OciReference) -> str:
    return oci_registry.push(built.layout_dir, ref)


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, check=True)


def ecli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return run_ecli(*args, env={**os.environ, "ECLI_HOME": str(home)})


def push_junk(tmp_path: Path, host: str, name: str, payload: bytes
              ) -> tuple[reference.OciReference, Descriptor, str]:
    """An artifact whose object is `payload` (unique bytes, so no other test shares its blob)."""
    obj = tmp_path / f"{name}.bpf.o"
    obj.write_bytes(payload)
    layout = Store(tmp_path / f"{name}-layout")
    config = PackageConfig(name=name, version="1.0", kind="bpf", object=obj.name)
    descriptor = artifact.create(layout, config, [obj], tag="1.0")
    ref = reference.parse(f"{host}/junk/{name}:1.0")
    oci_registry.push(layout, ref)
    layer = artifact.load(layout, descriptor.digest).manifest.layers[0]
    return ref, layer, descriptor.digest


# -- the happy path -----------------------------------------------------------


def test_pushed_artifact_has_our_media_types(pushed: reference.OciReference) -> None:
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{pushed}").stdout
    manifest = json.loads(raw)
    assert manifest["mediaType"] == mediatypes.OCI_MANIFEST
    assert manifest["artifactType"] == mediatypes.ARTIFACT_TYPE
    assert manifest["config"]["mediaType"] == mediatypes.PACKAGE_CONFIG
    [layer] = manifest["layers"]
    assert layer["mediaType"] == mediatypes.BPF_OBJECT
    assert layer["annotations"][mediatypes.ANNOTATION_TITLE] == "regtp.bpf.o"
    assert manifest["annotations"]["org.opencontainers.image.version"] == "0.3.0"


def test_skopeo_copies_it_to_an_oci_folder(pushed: reference.OciReference, built: BuildResult,
                                           tmp_path: Path) -> None:
    skopeo("copy", "--src-tls-verify=false", f"docker://{pushed}", f"oci:{tmp_path}:copied")
    copied = Store(tmp_path)
    digest = copied.resolve_ref("copied")
    assert digest == built.digest
    package = artifact.load(copied, digest)
    assert package.object_path is not None
    assert package.object_path.read_bytes() == built.object_path.read_bytes()


def test_pull_into_a_fresh_store(pushed: reference.OciReference, built: BuildResult,
                                 tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    seen: list[tuple[str, int, int]] = []
    pulled = oci_registry.pull(pushed, store, progress=lambda *event: seen.append(event))
    assert pulled.digest == built.digest
    assert pulled.package.config.name == "regtp"
    assert pulled.package.config.requirements.capabilities == ("CAP_BPF", "CAP_PERFMON")
    assert pulled.package.object_path is not None
    assert pulled.package.object_path.read_bytes() == built.object_path.read_bytes()
    assert store.resolve_ref(str(pushed)) == built.digest
    assert seen[-1] == ("regtp.bpf.o", built.object_path.stat().st_size,
                        built.object_path.stat().st_size)
    # What is in the store is found without the network, and skopeo reads it too.
    assert artifact.find(store, pushed) is not None
    raw = skopeo("inspect", "--raw", f"oci:{store.root}:{pushed}").stdout
    assert json.loads(raw)["artifactType"] == mediatypes.ARTIFACT_TYPE


def test_resolve_and_pull_by_digest(pushed: reference.OciReference, built: BuildResult,
                                    tmp_path: Path) -> None:
    assert oci_registry.resolve(pushed) == built.digest
    by_digest = reference.parse(f"{pushed.name}@{built.digest}")
    assert oci_registry.resolve(by_digest) == built.digest
    store = Store(tmp_path)
    pulled = oci_registry.pull(by_digest, store)
    assert pulled.digest == built.digest
    # A digest already stored needs no registry at all.
    offline = reference.parse(f"127.0.0.1:{free_port()}/ebpfhub/regtp@{built.digest}")
    assert oci_registry.pull(offline, store).digest == built.digest


def test_pull_follows_an_image_index(registry: RegistryServer, built: BuildResult,
                                     tmp_path: Path) -> None:
    layout = Store(built.layout_dir)
    manifest = layout.find_ref("0.3.0")
    assert manifest is not None
    other = Descriptor(manifest.media_type, manifest.digest, manifest.size,
                       platform=Platform("linux", "s390x"))
    index = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [
        other.to_dict(),
        Descriptor(manifest.media_type, manifest.digest, manifest.size,
                   platform=host_platform()).to_dict(),
    ]}).encode()
    index_layout = Store(tmp_path / "index-layout")
    for blob in (*artifact.load(layout, manifest.digest).manifest.blobs, manifest):
        index_layout.write_blob(layout.read_blob(blob.digest), blob.digest)
    index_digest = index_layout.write_blob(index)
    index_layout.add_ref("multi", index_digest, mediatypes.OCI_INDEX)
    ref = reference.parse(f"{registry.host}/ebpfhub/regtp:multi")
    assert oci_registry.push(index_layout, ref) == index_digest
    assert oci_registry.resolve(ref) == index_digest
    pulled = oci_registry.pull(ref, Store(tmp_path / "store"))
    assert pulled.digest == built.digest
    assert pulled.index_digest == index_digest


def test_a_second_platform_of_a_stored_index_is_pulled(registry: RegistryServer, objects,
                                                        tmp_path: Path) -> None:
    """The index is in the store with one platform's manifest (the host's, pulled first):
    asking for another platform fetches that one, not "blob not in the store"."""
    layout = Store(tmp_path / "layout")
    layout.ensure()
    manifests = []
    for arch, name in (("amd64", "plain_ringbuf"), ("arm64", "hub_inspect")):
        config = PackageConfig(name="twoarch", version="1.0.0", kind="bpf",
                               object=objects[name].name, platforms=(f"linux/{arch}",))
        manifests.append(artifact.create(layout, config, [objects[name]],
                                         platform=Platform("linux", arch)))
    raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                      "manifests": [m.to_dict() for m in manifests]}).encode()
    layout.add_ref("1.0.0", layout.write_blob(raw), mediatypes.OCI_INDEX, len(raw))
    tagged = reference.parse(f"{registry.host}/ebpfhub/twoarch:1.0.0")
    index_digest = oci_registry.push(layout, tagged)
    pinned = reference.parse(f"{registry.host}/ebpfhub/twoarch@{index_digest}")
    store = Store(tmp_path / "store")
    first = oci_registry.pull(pinned, store, platform=Platform("linux", "amd64"))
    second = oci_registry.pull(pinned, store, platform=Platform("linux", "arm64"))
    assert (first.digest, second.digest) == (manifests[0].digest, manifests[1].digest)
    assert second.package.object_path is not None and second.package.object_path.is_file()
    again = oci_registry.pull(pinned, store, platform=Platform("linux", "arm64"))
    assert again.digest == manifests[1].digest  # now from the store


def test_bumblebee_artifact_pulls_as_bpf(registry: RegistryServer, built: BuildResult,
                                         tmp_path: Path) -> None:
    program = built.object_path.read_bytes()
    ref = reference.parse(f"{registry.host}/solo/opentrace:v1")
    push_bumblebee(program, ref, tmp_path / "bee")
    pulled = oci_registry.pull(ref, Store(tmp_path / "store"))
    assert pulled.package.format == artifact.FORMAT_BUMBLEBEE
    assert (pulled.package.config.name, pulled.package.config.kind) == ("opentrace", "bpf")
    assert pulled.package.object_path is not None
    assert pulled.package.object_path.read_bytes() == program


# -- what must fail, cleanly --------------------------------------------------


def test_corrupted_blob_is_refused(registry: RegistryServer, tmp_path: Path) -> None:
    ref, layer, _ = push_junk(tmp_path, registry.host, "corrupt", os.urandom(4096))
    data_file = registry.blob_data_path(layer.digest)
    assert data_file.is_file()
    data_file.write_bytes(os.urandom(layer.size))  # same size, other bytes
    store = Store(tmp_path / "store")
    with pytest.raises(DigestMismatchError) as caught:
        oci_registry.pull(ref, store)
    message = str(caught.value)
    assert layer.digest in message and str(ref) in message and "\n" not in message
    assert not store.has(layer.digest)
    assert store.resolve_ref(str(ref)) is None
    assert list((store.root / ".tmp").iterdir()) == []


def test_truncated_blob_is_refused(registry: RegistryServer, tmp_path: Path) -> None:
    ref, layer, _ = push_junk(tmp_path, registry.host, "short", os.urandom(4096))
    registry.blob_data_path(layer.digest).write_bytes(b"tiny")
    store = Store(tmp_path / "store")
    with pytest.raises(DigestMismatchError):
        oci_registry.pull(ref, store)
    assert not store.has(layer.digest)


def test_corrupted_manifest_is_refused(registry: RegistryServer, tmp_path: Path) -> None:
    ref, _, manifest_digest = push_junk(tmp_path, registry.host, "badman", os.urandom(512))
    data_file = registry.blob_data_path(manifest_digest)
    original = data_file.read_bytes()
    data_file.write_bytes(original.replace(b'"1.0"', b'"6.6"'))
    with pytest.raises(DigestMismatchError, match="manifest digest mismatch"):
        oci_registry.resolve(ref)
    by_digest = reference.parse(f"{ref.name}@{manifest_digest}")
    store = Store(tmp_path / "store")
    with pytest.raises(DigestMismatchError, match=manifest_digest):
        oci_registry.pull(by_digest, store)
    assert not store.has(manifest_digest)


def test_registry_down_is_one_line(tmp_path: Path) -> None:
    ref = reference.parse(f"127.0.0.1:{free_port()}/ebpfhub/regtp:0.3.0")
    with pytest.raises(RegistryError) as caught:
        oci_registry.pull(ref, Store(tmp_path))
    message = str(caught.value)
    assert str(ref) in message and "connection refused" in message and "\n" not in message


def test_missing_tag_and_repository(registry: RegistryServer, pushed: reference.OciReference,
                                    tmp_path: Path) -> None:
    for text in (f"{pushed.name}:no-such-tag", f"{registry.host}/nobody/nothing:1"):
        with pytest.raises(RegistryError, match="not found") as caught:
            oci_registry.pull(reference.parse(text), Store(tmp_path))
        assert text in str(caught.value)


def test_not_an_ebpf_package(registry: RegistryServer, tmp_path: Path) -> None:
    layout = Store(tmp_path / "image")
    config = layout.write_blob(b'{"architecture": "amd64", "os": "linux"}')
    manifest = Manifest(mediatypes.OCI_MANIFEST,
                        Descriptor("application/vnd.oci.image.config.v1+json", config, 40), ())
    layout.add_ref("1", layout.write_blob(manifest.to_json()))
    ref = reference.parse(f"{registry.host}/plain/image:1")
    oci_registry.push(layout, ref)
    store = Store(tmp_path / "store")
    with pytest.raises(ArtifactError, match="not an eBPF package"):
        oci_registry.pull(ref, store)
    assert store.resolve_ref(str(ref)) is None


# -- the CLI --------------------------------------------------------------------


def test_cli_build_push_pull(make_bpf_project: Callable[..., Path], registry: RegistryServer,
                             tmp_path: Path) -> None:
    project = make_bpf_project("clitp", "2.0.1")
    result = ecli("build", str(project), "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    built_info = json.loads(result.stdout)
    assert (built_info["name"], built_info["version"]) == ("clitp", "2.0.1")

    target = f"{registry.host}/cli/clitp:2.0.1"
    result = ecli("push", target, "--dir", str(project), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert built_info["digest"] in result.stdout

    result = ecli("pull", target, "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"reference": target, "digest": built_info["digest"],
                                         "manifest": built_info["digest"],  # one platform
                                         "name": "clitp", "version": "2.0.1", "kind": "bpf"}
    assert Store(tmp_path / "cache" / "oci").resolve_ref(target) == built_info["digest"]


def test_cli_errors_are_one_line(registry: RegistryServer, tmp_path: Path) -> None:
    result = ecli("pull", f"{registry.host}/cli/missing:1", home=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("ecli: error: ") and "Traceback" not in result.stderr
    result = ecli("pull", "127.0.0.1:5000/Bad/Ref", home=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    result = ecli("push", f"{registry.host}/cli/x:1", "--dir", str(tmp_path), home=tmp_path)
    assert result.returncode == 1 and "ecli build" in result.stderr
