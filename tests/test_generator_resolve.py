"""`python -m generator resolve` against a real registry (CNCF distribution).

Tags become digests in index/lock.json; an unchanged index asks the registry
nothing; a registry that is down is a problem per version and the lock stays.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.request
from pathlib import Path

import pytest

from generator import commands, lock
from generator.__main__ import main
from generator.problems import GeneratorError

from registry_server import free_port, upload_blob

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.registry


def push_manifest(host: str, repository: str, tag: str, flavour: str = "v1") -> str:
    """Put a one-blob OCI manifest under `tag` with the plain distribution API."""
    config = b"{}"
    config_digest = upload_blob(host, repository, config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": f"application/vnd.ebpfhub.test.{flavour}",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": config_digest, "size": len(config)}],
    }).encode()
    put = urllib.request.Request(f"http://{host}/v2/{repository}/manifests/{tag}",
                                 data=manifest, method="PUT", headers={
                                     "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    urllib.request.urlopen(put).close()
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def make_index(tmp_path: Path, refs: dict[str, str]) -> Path:
    index = tmp_path / "index"
    shutil.copytree(REPO / "index" / "schema", index / "schema")
    (index / "packages").mkdir()
    versions = "".join(f"  - {{version: {v}, ref: '{r}'}}\n" for v, r in refs.items())
    (index / "packages" / "tool.yaml").write_text(
        "name: tool\nkind: bpf\nsummary: a tool\nowners: [ebpfhub]\nlicense: MIT\n"
        f"versions:\n{versions}")
    return index


def test_resolve_writes_digests_and_an_unchanged_index_asks_nothing(registry, tmp_path: Path):
    digest = push_manifest(registry.host, "ebpfhub/tool", "1.0.0")
    pinned = "sha256:" + "ee" * 32
    index = make_index(tmp_path, {
        "1.0.0": f"{registry.host}/ebpfhub/tool:1.0.0",
        "0.9.0": f"{registry.host}/ebpfhub/tool@{pinned}",
    })
    asked: list[str] = []

    def counting(ref):
        from ecli.oci.registry import resolve

        asked.append(str(ref))
        return resolve(ref)

    opts = commands.options(index, resolver=counting, config_file=REPO / "mkdocs.yml")
    first = commands.resolve_lock(opts)
    assert (first.requests, first.lock_written) == (1, True)
    assert asked == [f"{registry.host}/ebpfhub/tool:1.0.0"]  # the digest ref needs no request
    locked = lock.read(index / "lock.json")
    assert locked["tool"]["1.0.0"].digest == digest
    assert locked["tool"]["0.9.0"].digest == pinned
    raw = json.loads((index / "lock.json").read_text())
    assert raw["schema_version"] == 1
    assert set(raw["packages"]["tool"]["1.0.0"]) == {"ref", "digest", "resolved"}

    stamp = (index / "lock.json").read_bytes()
    again = commands.resolve_lock(opts)
    assert (again.requests, again.lock_written) == (0, False)
    assert asked == [f"{registry.host}/ebpfhub/tool:1.0.0"]
    assert (index / "lock.json").read_bytes() == stamp

    out = tmp_path / "site"
    built = commands.build(opts, out)  # not offline, yet nothing to ask
    assert built.requests == 0 and len(asked) == 1
    assert digest in (out / "packages" / "tool" / "index.html").read_text()


def test_the_cli_resolves_through_the_real_registry_client(registry, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]):
    digest = push_manifest(registry.host, "ebpfhub/cli-tool", "2.0.0")
    index = make_index(tmp_path, {"2.0.0": f"{registry.host}/ebpfhub/cli-tool:2.0.0"})
    assert main(["resolve", "--index", str(index)]) == 0
    assert "1 registry request(s)" in capsys.readouterr().out
    assert lock.read(index / "lock.json")["tool"]["2.0.0"].digest == digest


def test_registry_down_is_a_problem_per_version_and_the_lock_is_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    dead = f"127.0.0.1:{free_port()}"
    index = make_index(tmp_path, {"1.1.0": f"{dead}/ebpfhub/tool:1.1.0",
                                  "1.0.0": f"{dead}/ebpfhub/tool:1.0.0"})
    lock.write(index / "lock.json", {})
    stamp = (index / "lock.json").read_bytes()
    assert main(["resolve", "--index", str(index)]) == 1
    output = capsys.readouterr().out
    entry = index / "packages" / "tool.yaml"
    assert (f"{entry}:8:27: ref: tool 1.0.0: {dead}/ebpfhub/tool:1.0.0: cannot reach {dead}"
            in output)
    assert f"{entry}:7:27: ref: tool 1.1.0: {dead}/ebpfhub/tool:1.1.0:" in output
    assert (index / "lock.json").read_bytes() == stamp


def test_offline_resolve_needs_every_tag_in_the_lock(tmp_path: Path):
    index = make_index(tmp_path, {"1.0.0": "ghcr.io/ebpfhub/tool:1.0.0"})
    with pytest.raises(GeneratorError, match="--offline forbids asking the registry"):
        commands.resolve_lock(commands.options(index, offline=True))
    assert not (index / "lock.json").exists()


def test_a_moved_tag_is_seen_only_with_refresh(registry, tmp_path: Path):
    first = push_manifest(registry.host, "ebpfhub/moving", "1.0.0")
    index = make_index(tmp_path, {"1.0.0": f"{registry.host}/ebpfhub/moving:1.0.0"})
    commands.resolve_lock(commands.options(index))
    second = push_manifest(registry.host, "ebpfhub/moving", "1.0.0", flavour="v2")
    assert second != first
    assert commands.resolve_lock(commands.options(index)).requests == 0
    assert lock.read(index / "lock.json")["tool"]["1.0.0"].digest == first
    refreshed = commands.resolve_lock(commands.options(index, refresh=True))
    assert (refreshed.requests, refreshed.lock_written) == (1, True)
    assert lock.read(index / "lock.json")["tool"]["1.0.0"].digest == second


def test_a_moved_tag_fails_the_scheduled_check_with_both_digests(
        registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    first = push_manifest(registry.host, "ebpfhub/moved", "1.0.0")
    index = make_index(tmp_path, {"1.0.0": f"{registry.host}/ebpfhub/moved:1.0.0"})
    commands.resolve_lock(commands.options(index))
    stamp = (index / "lock.json").read_bytes()
    second = push_manifest(registry.host, "ebpfhub/moved", "1.0.0", flavour="v3")
    assert main(["resolve", "--index", str(index), "--refresh", "--fail-on-moved"]) == 1
    output = capsys.readouterr().out
    assert f"the tag moved: {registry.host}/ebpfhub/moved:1.0.0 was {first} when published " \
           f"and is now {second} [moved]" in output
    assert (index / "lock.json").read_bytes() == stamp


@pytest.mark.parametrize("signer", [
    "sha256:" + "a" * 64,  # a key's fingerprint
    "https://github.com/org/tool/.github/workflows/release.yml@refs/tags/v1 "
    "(issuer https://token.actions.githubusercontent.com)",  # keyless: Signer.name
])
def test_the_lock_reads_back_the_signer_it_wrote(signer: str, tmp_path: Path):
    """A keyless signer is recorded by its identity and issuer, not a digest: the next
    resolve must read the lock it wrote."""
    written = {"tool": {"1.0.0": lock.Locked("r.example/tool:1.0.0", "sha256:" + "b" * 64,
                                             "2026-01-01T00:00:00Z", signer,
                                             "sha256:" + "c" * 64)}}
    lock.write(tmp_path / "lock.json", written)
    assert lock.read(tmp_path / "lock.json") == written


@pytest.mark.parametrize(("field", "value", "says"), [
    ("signer", "", "the signer is empty"),
    ("signer", "me\x1b[31m (issuer https://x.example)", "control character"),
    ("signature", "not-a-digest", "sha256"),
])
def test_a_lock_with_a_bad_signer_or_signature_is_refused(field: str, value: str, says: str,
                                                          tmp_path: Path):
    record = {"ref": "r.example/tool:1.0.0", "digest": "sha256:" + "b" * 64,
              "resolved": "2026-01-01T00:00:00Z", "signer": "sha256:" + "a" * 64,
              "signature": "sha256:" + "c" * 64, field: value}
    path = tmp_path / "lock.json"
    path.write_text(json.dumps({"schema_version": 1, "packages": {"tool": {"1.0.0": record}}}))
    with pytest.raises(GeneratorError) as raised:
        lock.read(path)
    assert "the lock is malformed" in str(raised.value) and says in str(raised.value)
