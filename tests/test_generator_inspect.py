"""`python -m generator inspect`: real objects compiled by clang, pulled from the real registry.

The inspection decodes each program's call instructions itself (helper ids
through a table generated from libbpf's header), so these tests compile a
program that calls the helpers the hub must flag and check what comes out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecli.develop.build import load_project
from ecli.oci import artifact, mediatypes, reference
from ecli.oci import registry as oci_registry
from ecli.oci.config import PackageConfig
from ecli.oci.manifest import Platform
from ecli.oci.store import Store
from ecli.runtime import analysis
from ecli.runtime.helper_ids import HELPERS
from ecli.runtime.insns import decode_calls
from generator import commands, helper_table, lock
from generator.__main__ import main

from bpf_objects import compile_bpf
from index_fixtures import entry_index
from registry_server import CONFIG, RegistryServer, running_registry

REPO = Path(__file__).resolve().parent.parent
# the entry every index here holds: its license lets the object's GPL-only helpers pass
HUBTOOL = {"summary": "a tool that writes user memory", "license_id": "GPL-2.0-only"}
SOURCE = REPO / "tests" / "bpf" / "hub_inspect.bpf.c"


@pytest.fixture(scope="module")
def hub_object(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_bpf(SOURCE, tmp_path_factory.mktemp("inspect"))


def test_helper_table_matches_the_installed_libbpf_header():
    header = Path("/usr/include/bpf/bpf_helper_defs.h").read_text()
    assert helper_table.parse_helper_defs(header) == HELPERS
    # the generated file is exactly what `python -m generator.helper_table` writes
    assert helper_table.render(HELPERS) == helper_table.TABLE.read_text()
    assert HELPERS[36] == "bpf_probe_write_user" and HELPERS[109] == "bpf_send_signal"


def test_object_inspection_finds_programs_helpers_and_dangers(hub_object: Path):
    found = analysis.analyse_file(hub_object)
    assert [(p.section, p.type, p.attach) for p in found.programs] == [
        ("tracepoint/syscalls/sys_enter_openat", "tracepoint", "syscalls:sys_enter_openat"),
        ("xdp", "xdp", "")]
    assert {"bpf_probe_write_user", "bpf_send_signal", "bpf_ringbuf_reserve",
            "bpf_ringbuf_submit", "bpf_get_current_pid_tgid"} <= set(found.helpers)
    assert [(m.name, m.type) for m in found.maps] == [("events", "ringbuf")]
    assert found.license == "GPL"
    assert found.min_kernel == "5.8"  # ring buffer
    levels = {p.id: p.level for p in found.permissions}
    assert levels["write-user-memory"] == "dangerous"
    assert levels["send-signal"] == "dangerous"
    assert levels["network-hook"] == "elevated"
    assert levels["observe-kernel"] == "info"
    assert [p.level for p in found.permissions][:2] == ["dangerous", "dangerous"]
    assert {"CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON", "CAP_SYS_ADMIN"} <= set(
        found.capabilities)


def test_instructions_are_decoded_with_wide_loads_skipped():
    call = bytes([0x85, 0x00, 0, 0]) + (36).to_bytes(4, "little")
    local_call = bytes([0x85, 0x10, 0, 0]) + (5).to_bytes(4, "little")  # bpf-to-bpf
    wide = bytes([0x18, 0x01, 0, 0]) + bytes([0x85, 0, 0, 0]) + bytes(8)  # imm looks like a call
    calls = decode_calls(call + local_call + wide + call, {}, "x", "x")
    assert {c.helper for c in calls} == {36}
    with pytest.raises(Exception, match="not a multiple of 8"):
        decode_calls(b"\x85\x00", {}, "x", "x")


def test_inspect_pulls_by_digest_caches_and_the_site_shows_the_danger(
        registry, hub_object: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    store = Store(tmp_path / "layout")
    store.ensure()
    config = PackageConfig(name="hubtool", version="1.0.0", kind="bpf", object=hub_object.name,
                           platforms=("linux/amd64",))
    artifact.create(store, config, [hub_object], tag="1.0.0")
    ref = reference.parse(f"{registry.host}/ebpfhub/hubtool:1.0.0")
    digest = oci_registry.push(store, ref)
    index = entry_index(tmp_path, "hubtool", str(ref), **HUBTOOL)
    assert main(["resolve", "--index", str(index)]) == 0
    cache = tmp_path / "cache"
    assert main(["inspect", "--index", str(index), "--store", str(cache)]) == 0
    output = capsys.readouterr().out
    assert "dangerous: hubtool 1.0.0: write-user-memory" in output
    assert "1 digest(s) inspected, 1 pulled" in output
    saved = json.loads((index / "inspection.json").read_text())
    assert list(saved["digests"]) == [digest]
    assert saved["digests"][digest]["platforms"] == [
        {"architecture": "amd64", "digest": digest, "os": "linux"}]
    assert main(["inspect", "--index", str(index), "--store", str(cache)]) == 0  # cached
    assert "0 pulled" in capsys.readouterr().out
    out = tmp_path / "site"
    assert main(["build", "--index", str(index), "--offline", "--out", str(out),
                 "--config", str(REPO / "mkdocs.yml")]) == 0
    page = (out / "packages" / "hubtool" / "index.html").read_text()
    assert '<span class="hub-badge hub-danger">dangerous: write-user-memory</span>' in page
    assert re.search(r'hub-dangerous"><span class="hub-level">dangerous</span> writes into '
                     r"the memory of running processes \(bpf_probe_write_user\)", page)
    document = json.loads((out / "api" / "v1" / "packages" / "hubtool.json").read_text())
    inspection = document["versions"][0]["inspection"]
    assert inspection["min_kernel"] == "5.8"
    assert document["versions"][0]["platforms"][0]["architecture"] == "amd64"
    catalog = json.loads((out / "api" / "v1" / "catalog.json").read_text())
    assert catalog["packages"][0]["architectures"] == ["amd64"]


def test_the_hub_page_of_a_package_with_metrics_names_them(
        registry, objects, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """generator inspect reads the [metrics] table against the object; the page lists them."""
    config = load_project(REPO / "examples" / "runqlat").config
    store = Store(tmp_path / "layout")
    store.ensure()
    artifact.create(store, config, [objects["runqlat"]], tag=config.version)
    ref = reference.parse(f"{registry.host}/ebpfhub/runqlat:{config.version}")
    oci_registry.push(store, ref)
    index = entry_index(tmp_path, "runqlat", str(ref), version=config.version, **HUBTOOL)
    assert main(["resolve", "--index", str(index)]) == 0
    assert main(["inspect", "--index", str(index), "--store",
                           str(tmp_path / "cache")]) == 0
    out = tmp_path / "site"
    assert main(["build", "--index", str(index), "--offline", "--out", str(out),
                           "--config", str(REPO / "mkdocs.yml")]) == 0
    capsys.readouterr()
    page = (out / "packages" / "runqlat" / "index.html").read_text()
    assert ('<li><code>runqlat_runq_latency_seconds</code> <span class="hub-kind">histogram'
            '</span></li>') in page
    document = json.loads((out / "api" / "v1" / "packages" / "runqlat.json").read_text())
    assert document["versions"][0]["inspection"]["metrics"] == [
        {"name": "runqlat_runq_latency_seconds", "kind": "histogram"}]


def test_an_artifact_that_is_not_ebpf_is_a_located_problem(
        registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    store = Store(tmp_path / "layout")
    store.ensure()
    bogus = tmp_path / "tool.bpf.o"
    bogus.write_bytes(b"\x7fELF" + bytes(60))  # claims ELF, is not an eBPF object
    config = PackageConfig(name="hubtool", version="1.0.0", kind="bpf", object=bogus.name)
    artifact.create(store, config, [bogus], tag="1.0.0")
    ref = reference.parse(f"{registry.host}/ebpfhub/bogus:1.0.0")
    digest = oci_registry.push(store, ref)
    index = entry_index(tmp_path, "hubtool", f"{registry.host}/ebpfhub/bogus@{digest}", **HUBTOOL)
    lock.write(index / "lock.json", {})
    commands.resolve_lock(commands.options(index))
    code = main(["inspect", "--index", str(index), "--store", str(tmp_path / "cache")])
    output = capsys.readouterr().out
    assert code == 1
    assert f"{index / 'packages' / 'hubtool.yaml'}:8:10: ref: hubtool 1.0.0" in output
    assert "[inspect]" in output
    assert not (index / "inspection.json").exists()


@pytest.fixture(scope="module")
def logged_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry of its own whose log names every request (the shared one logs warnings)."""
    config = tmp_path_factory.mktemp("registry") / "config.yml"
    config.write_text(CONFIG.read_text().replace("level: warn", "level: info")
                      .replace("disabled: true", "disabled: false"))
    with running_registry(config=config) as server:
        yield server


def _gets(registry_log: Path, digest: str) -> list[str]:
    """The registry's log lines of GET requests for this blob or manifest."""
    return [line for line in registry_log.read_text().splitlines()
            if "GET" in line and f"/{digest}" in line]


def test_every_platform_of_an_image_index_is_inspected(
        logged_registry, hub_object: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    amd64 = compile_bpf(REPO / "tests" / "bpf" / "plain_ringbuf.bpf.c", tmp_path / "amd64")
    store = Store(tmp_path / "layout")
    store.ensure()
    manifests = []
    for arch, obj in (("amd64", amd64), ("arm64", hub_object)):  # distinct objects
        config = PackageConfig(name="hubtool", version="1.0.0", kind="bpf", object=obj.name,
                               platforms=(f"linux/{arch}",))
        manifests.append(artifact.create(store, config, [obj], platform=Platform("linux", arch)))
    raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                      "manifests": [m.to_dict() for m in manifests]}).encode()
    store.add_ref("1.0.0", store.write_blob(raw), mediatypes.OCI_INDEX, len(raw))
    ref = reference.parse(f"{logged_registry.host}/ebpfhub/twoplat:1.0.0")
    index_digest = oci_registry.push(store, ref)
    index = entry_index(tmp_path, "hubtool", str(ref), **HUBTOOL)
    assert main(["resolve", "--index", str(index)]) == 0
    assert main(["inspect", "--index", str(index), "--store", str(tmp_path / "cache")]) == 0
    assert "dangerous: hubtool 1.0.0: send-signal" in capsys.readouterr().out
    saved = json.loads((index / "inspection.json").read_text())["digests"][index_digest]
    by_arch = {p["architecture"]: p for p in saved["platforms"]}
    assert [by_arch[a]["digest"] for a in ("amd64", "arm64")] == [m.digest for m in manifests]
    amd64_levels = {p["id"]: p["level"] for p in by_arch["amd64"]["inspection"]["permissions"]}
    arm64_levels = {p["id"]: p["level"] for p in by_arch["arm64"]["inspection"]["permissions"]}
    assert "send-signal" not in amd64_levels and arm64_levels["send-signal"] == "dangerous"
    assert by_arch["amd64"]["inspection"]["programs"] == [
        {"section": "tracepoint/syscalls/sys_enter_openat", "type": "tracepoint",
         "attach": "syscalls:sys_enter_openat"}]
    merged = {p["id"] for p in saved["inspection"]["permissions"]}
    assert {"send-signal", "write-user-memory", "network-hook", "read-user-memory"} <= merged
    for obj in (amd64, hub_object):  # both platforms' objects were pulled
        assert _gets(logged_registry.log, artifact_digest(obj))
    # the file reads back the same, and the JSON index publishes the union
    from generator import inspection
    cache = inspection.read(index / "inspection.json")
    assert set(cache[index_digest].by_platform) == {m.digest for m in manifests}
    out = tmp_path / "site"
    assert main(["build", "--index", str(index), "--offline", "--out", str(out),
                 "--config", str(REPO / "mkdocs.yml")]) == 0
    document = json.loads((out / "api" / "v1" / "packages" / "hubtool.json").read_text())
    version = document["versions"][0]
    assert sorted(p["architecture"] for p in version["platforms"]) == ["amd64", "arm64"]
    assert "send-signal" in {p["id"] for p in version["inspection"]["permissions"]}


def test_platforms_that_share_one_manifest_are_each_listed(
        logged_registry, hub_object: Path, tmp_path: Path):
    """`ecli build` of an eBPF object makes the same manifest for amd64 and arm64 (the
    object is the same bytes): both platforms must be listed, and pulled once."""
    store = Store(tmp_path / "layout")
    store.ensure()
    config = PackageConfig(name="hubtool", version="1.0.0", kind="bpf", object=hub_object.name,
                           platforms=("linux/amd64", "linux/arm64"))
    shared = artifact.create(store, config, [hub_object])
    entries = [{**shared.to_dict(), "platform": {"os": "linux", "architecture": arch}}
               for arch in ("amd64", "arm64")]
    raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                      "manifests": entries}).encode()
    store.add_ref("1.0.0", store.write_blob(raw), mediatypes.OCI_INDEX, len(raw))
    ref = reference.parse(f"{logged_registry.host}/ebpfhub/sameplat:1.0.0")
    index_digest = oci_registry.push(store, ref)
    index = entry_index(tmp_path, "hubtool", str(ref), **HUBTOOL)
    assert main(["resolve", "--index", str(index)]) == 0
    assert main(["inspect", "--index", str(index), "--store", str(tmp_path / "cache")]) == 0
    saved = json.loads((index / "inspection.json").read_text())["digests"][index_digest]
    assert sorted((p["architecture"], p["digest"]) for p in saved["platforms"]) == [
        ("amd64", shared.digest), ("arm64", shared.digest)]
    requests = [line for line in _gets(logged_registry.log, shared.digest)
                if "/manifests/" in line and 'HTTP/1.1" 200' in line]  # access-log lines
    assert len(requests) == 2  # the shared manifest: read once for both platforms, pulled once
    out = tmp_path / "site"
    assert main(["build", "--index", str(index), "--offline", "--out", str(out),
                 "--config", str(REPO / "mkdocs.yml")]) == 0
    document = json.loads((out / "api" / "v1" / "packages" / "hubtool.json").read_text())
    assert sorted(p["architecture"] for p in document["versions"][0]["platforms"]) == [
        "amd64", "arm64"]


def artifact_digest(path: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_artifact_over_the_size_limit_is_refused_before_its_blobs(
        logged_registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    import os
    import urllib.request

    store = Store(tmp_path / "layout")
    store.ensure()
    obj = tmp_path / "big.bpf.o"
    obj.write_bytes(os.urandom(4096))  # a blob no other test has
    config = PackageConfig(name="hubtool", version="1.0.0", kind="bpf", object=obj.name)
    pushed = artifact.create(store, config, [obj], tag="1.0.0")
    ref = reference.parse(f"{logged_registry.host}/ebpfhub/toobig:1.0.0")
    oci_registry.push(store, ref)  # the blobs exist in the registry ...
    manifest = json.loads(store.read_blob(pushed.digest))
    manifest["layers"][0]["size"] = 300 << 20  # ... but the manifest declares 300 MiB
    raw = json.dumps(manifest).encode()
    request = urllib.request.Request(
        f"http://{logged_registry.host}/v2/ebpfhub/toobig/manifests/2.0.0", data=raw,
        method="PUT",
        headers={"Content-Type": mediatypes.OCI_MANIFEST})
    with urllib.request.urlopen(request, timeout=10) as response:
        forged = response.headers["Docker-Content-Digest"]
    index = entry_index(tmp_path, "hubtool", f"{logged_registry.host}/ebpfhub/toobig@{forged}",
                        **HUBTOOL)
    lock.write(index / "lock.json", {})
    commands.resolve_lock(commands.options(index))
    cache = tmp_path / "cache"
    code = main(["inspect", "--index", str(index), "--store", str(cache)])
    output = capsys.readouterr().out
    assert code == 1
    assert ("artifact is 300 MiB, over the hub's limit of 256 MiB (nothing was downloaded) "
            "[inspect]") in output
    assert _gets(logged_registry.log, forged)  # the manifest was read: the log works
    assert not _gets(logged_registry.log, artifact_digest(obj))
    assert not _gets(logged_registry.log, manifest["config"]["digest"])
    assert not any(cache.rglob("*.bpf.o")) and not (index / "inspection.json").exists()
