"""Air-gapped use, whole: `ecli save` on a connected machine, `ecli load` / `ecli install
ARCHIVE` on one with no source and no registry, then run and install by name with
`--pull never`; skopeo and oras read the archive; every tampered or broken archive is
refused with one line and leaves nothing stored.

Real registry, real signatures (`ecli sign`), real skopeo and oras-py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from oras.layout import Layout

from ecli.hubindex import model
from ecli.oci import mediatypes
from ecli.trust import keys

from ecli_process import error_line, run_ecli
from pm_fixtures import index_document, push_bundle, write_catalog


@pytest.fixture(scope="module")
def hub(registry, tmp_path_factory):
    """`hello` 0.1.0 and 0.2.0 (unsigned) and `tool` 1.0.0 signed by the key its entry
    declares, pushed to the real registry and listed in an index folder."""
    tmp = tmp_path_factory.mktemp("airgap")
    hello = {v: push_bundle(registry.host, tmp, "hello", v) for v in ("0.1.0", "0.2.0")}
    tool = push_bundle(registry.host, tmp, "tool", "1.0.0")
    private, public = keys.generate(tmp_path_factory.mktemp("publisher"))
    signed = run_ecli("sign", f"{registry.host}/pm/tool:1.0.0", "--key", str(private),
                      env={**os.environ})
    assert signed.returncode == 0, signed.stderr
    stranger = keys.generate(tmp_path_factory.mktemp("stranger"))[1]
    signer = model.Signer(public.read_text(), keys.load_public(public).fingerprint())
    documents = [
        index_document("hello", f"{registry.host}/pm/hello",
                       [("0.2.0", hello["0.2.0"], None), ("0.1.0", hello["0.1.0"], None)]),
        index_document("tool", f"{registry.host}/pm/tool",
                       [("1.0.0", tool, None)])._replace(signer=signer),
    ]
    return {"folder": write_catalog(tmp / "api" / "v1", documents), "host": registry.host,
            "hello": hello, "tool": tool,
            "stranger": model.Signer(stranger.read_text(),
                                     keys.load_public(stranger).fingerprint())}


def ok(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = run_ecli(*args, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done


@pytest.fixture(scope="module")
def saved(hub, tmp_path_factory) -> dict:
    """`ecli save hello@0.1.0 tool` on the connected machine: the archive and what it says."""
    tmp = tmp_path_factory.mktemp("connected")
    env = {**os.environ, "ECLI_HOME": str(tmp / "home"), "ECLI_DEFAULT_SOURCE": ""}
    ok("sources", "add", "hub", str(hub["folder"]), env=env)
    archive = tmp / "tools.tar"
    listing = json.loads(ok("save", "hello@0.1.0", "tool", "-o", str(archive), "--json",
                            env=env).stdout)
    return {"archive": archive, "packages": listing["packages"]}


def far_away(tmp_path: Path) -> dict[str, str]:
    """A machine with no source configured (not even the default) and no registry use."""
    return {**os.environ, "ECLI_HOME": str(tmp_path / "far"), "ECLI_DEFAULT_SOURCE": "",
            "DOCKER_CONFIG": str(tmp_path / "docker"), "ECLI_HTTP_TIMEOUT": "1"}


def test_save_names_each_package_by_its_registry_reference(hub, saved):
    assert [(p["name"], p["version"], p["reference"], p["digest"]) for p in saved["packages"]] \
        == [("hello", "0.1.0", f"{hub['host']}/pm/hello:0.1.0", hub["hello"]["0.1.0"]),
            ("tool", "1.0.0", f"{hub['host']}/pm/tool:1.0.0", hub["tool"])]


def test_load_then_run_and_install_by_name_with_no_source_and_no_network(hub, saved, tmp_path):
    far = far_away(tmp_path)
    loaded = json.loads(ok("load", str(saved["archive"]), "--json", env=far).stdout)
    assert loaded["source"] == "archive-tools"
    assert {(p["name"], p["version"]) for p in loaded["packages"]} == {
        ("hello", "0.1.0"), ("tool", "1.0.0")}
    # loading it again replaces its source; -q names what it holds
    assert ok("load", "-q", str(saved["archive"]), env=far).stdout == "hello\ntool\n"
    [source] = json.loads(ok("sources", "list", "--json", env=far).stdout)
    assert source["name"] == "archive-tools"
    assert source["location"] == str(tmp_path / "far" / "state" / "archives" / "archive-tools")
    assert "archive-tools" in ok("sources", "list", env=far).stdout
    assert "hello" in ok("search", "hello", env=far).stdout
    ran = ok("run", "--pull", "never", "--yes", "hello", "x", env=far)
    assert ran.stdout.strip() == "hello 0.1.0 x"
    # the signed one runs unasked: its signature held against the signer its entry declares
    tool = ok("run", "--pull", "never", "tool", env=far)
    assert tool.stdout.strip() == "hello 1.0.0"
    assert "signed by sha256:" in tool.stderr
    ok("install", "--pull", "never", "tool", env=far)
    ok("install", "--pull", "never", "hello", env=far)
    listed = {p["name"]: p for p in json.loads(ok("list", "--json", env=far).stdout)}
    assert {n: (p["version"], p["source"]) for n, p in listed.items()} == {
        "hello": ("0.1.0", "archive-tools"), "tool": ("1.0.0", "archive-tools")}
    # a version the archive does not carry is not there, and says so
    missing = run_ecli("run", "--pull", "never", "--yes", "hello@0.2.0", env=far)
    assert missing.returncode == 1
    assert "hello has no version 0.2.0 (known: 0.1.0)" in error_line(missing)
    # a policy set on the archive's source holds at the next load: unsigned hello refused
    ok("sources", "add", "archive-tools", source["location"], "--signatures", "require",
       env=far)
    strict = run_ecli("load", str(saved["archive"]), env=far)
    assert strict.returncode == 1
    assert error_line(strict) == (
        f"ecli: error: {saved['archive']}: hello 0.1.0: unsigned (its index entry declares "
        "no signer), and source archive-tools requires signatures")
    [kept] = json.loads(ok("sources", "list", "--json", env=far).stdout)
    assert kept["signatures"] == "require"


def test_install_archive_installs_every_package_in_it(saved, tmp_path):
    far = far_away(tmp_path)
    done = json.loads(ok("install", str(saved["archive"]), "--json", env=far).stdout)
    assert {(c["name"], c["version"]) for c in done} == {("hello", "0.1.0"), ("tool", "1.0.0")}
    assert ok("run", "--yes", "hello", env=far).stdout.strip() == "hello 0.1.0"
    assert ok("run", "tool", env=far).stdout.strip() == "hello 1.0.0"


def test_skopeo_and_oras_read_the_archive_by_reference_name(saved, tmp_path):
    for package in saved["packages"]:
        raw = subprocess.run(["skopeo", "inspect", "--raw",
                              f"oci-archive:{saved['archive']}:{package['reference']}"],
                             capture_output=True, timeout=60)
        assert raw.returncode == 0, raw.stderr
        assert "sha256:" + hashlib.sha256(raw.stdout).hexdigest() == package["digest"]
    folder = unpack(saved["archive"], tmp_path / "layout")
    layout = Layout(str(folder))  # oras-py validates the image layout
    for package in saved["packages"]:
        blobs = layout.get_ordered_blobs(package["reference"])
        assert blobs[-1] == package["digest"]
        assert all(layout.blob_exists(blob) for blob in blobs)
    index = json.loads((folder / "index.json").read_text())
    kinds = sorted(d.get("artifactType", "") for d in index["manifests"])
    assert kinds.count(mediatypes.INDEX_ENTRY) == 2  # one index entry per package
    assert any(d["annotations"].get("org.opencontainers.image.ref.name", "").endswith(".sig")
               for d in index["manifests"]), "tool's signature travels with it"


# -- bad archives: one line, nothing stored ----------------------------------------------


def unpack(archive: Path, folder: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def pack(folder: Path, archive: Path, extra: Callable[[tarfile.TarFile], None] | None = None
         ) -> Path:
    with tarfile.open(archive, "w") as tar:
        if extra:
            extra(tar)
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, path.relative_to(folder).as_posix())
    return archive


def blob(folder: Path, digest: str) -> Path:
    return folder / "blobs" / "sha256" / digest.removeprefix("sha256:")


def put(folder: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob(folder, digest).write_bytes(data)
    return digest


def rewrite_entry(folder: Path, name: str,
                  change: Callable[[model.PackageDocument], model.PackageDocument]) -> None:
    """Change `name`'s index entry and every digest above it, so that only the change
    itself can be refused (the blobs all still match their names)."""
    index = json.loads((folder / "index.json").read_text())
    for descriptor in index["manifests"]:
        if descriptor.get("annotations", {}).get("dev.ebpfhub.package.name") != name:
            continue
        manifest = json.loads(blob(folder, descriptor["digest"]).read_bytes())
        layer = manifest["layers"][0]
        document = model.load_package(blob(folder, layer["digest"]).read_bytes(), name)
        raw = model.dump(change(document))
        layer["digest"], layer["size"] = put(folder, raw), len(raw)
        body = json.dumps(manifest).encode()
        descriptor["digest"], descriptor["size"] = put(folder, body), len(body)
    (folder / "index.json").write_text(json.dumps(index))


def package_manifest(folder: Path, reference: str) -> dict:
    index = json.loads((folder / "index.json").read_text())
    [descriptor] = [d for d in index["manifests"] if d.get("annotations", {}).get(
        "org.opencontainers.image.ref.name") == reference]
    return json.loads(blob(folder, descriptor["digest"]).read_bytes())


def huge_member(tar: tarfile.TarFile) -> None:
    """A member whose header claims 5 GiB (its bytes are never there)."""
    info = tarfile.TarInfo("blobs/sha256/" + "ab" * 32)
    info.size = 5 << 30
    tar.fileobj.write(info.tobuf(tarfile.GNU_FORMAT))  # type: ignore[union-attr]
    tar.offset += tarfile.BLOCKSIZE


def traversal_member(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("../../escaped")
    info.size = 4
    tar.addfile(info, io.BytesIO(b"evil"))


def breaking(case: str, saved: dict, hub: dict, work: Path) -> Path:
    """A copy of the saved archive broken as `case` says."""
    broken = work / f"{case}.tar"
    if case == "not-a-tar":
        broken.write_bytes(b"this is not a tar archive\n" * 40)
        return broken
    if case == "truncated":
        raw = saved["archive"].read_bytes()
        broken.write_bytes(raw[:len(raw) // 2])
        return broken
    folder = unpack(saved["archive"], work / "layout")
    hello = saved["packages"][0]["reference"]
    if case == "missing-blob":
        blob(folder, package_manifest(folder, hello)["layers"][0]["digest"]).unlink()
    elif case == "digest-mismatch":
        path = blob(folder, package_manifest(folder, hello)["config"]["digest"])
        path.write_bytes(path.read_bytes().replace(b"hello", b"HELLO"))
    elif case == "entry-digest-not-in-archive":
        rewrite_entry(folder, "hello", lambda d: d._replace(versions=tuple(
            v._replace(digest="sha256:" + "ee" * 32) for v in d.versions)))
    elif case == "entry-name-escapes":
        rewrite_entry(folder, "hello", lambda d: d._replace(name="../../evil"))
    elif case == "signer-swapped":
        rewrite_entry(folder, "tool", lambda d: d._replace(signer=hub["stranger"]))
    extra = {"path-traversal": traversal_member, "huge-member": huge_member}.get(case)
    return pack(folder, broken, extra)


@pytest.mark.parametrize(("case", "message"), [
    ("not-a-tar", "not a readable tar archive"),
    ("truncated", "the archive is damaged"),
    ("missing-blob", "is missing from the archive"),
    ("digest-mismatch", "digest mismatch: expected sha256:"),
    ("entry-digest-not-in-archive", "index entry hello 0.1.0 names sha256:eeee"),
    ("path-traversal", "unexpected member '../../escaped'"),
    ("entry-name-escapes", "'../../evil' is not a valid package name"),
    ("huge-member", "is 5368709120 bytes, more than the 4294967296 allowed"),
    ("signer-swapped", "tool 1.0.0: signature refused: "),
])
def test_a_broken_or_tampered_archive_is_refused_and_nothing_is_stored(
        case, message, hub, saved, tmp_path):
    archive = breaking(case, saved, hub, tmp_path)
    far = far_away(tmp_path)
    for command in ("load", "install"):
        done = run_ecli(command, str(archive), env=far, stdin=subprocess.DEVNULL)
        assert done.returncode != 0 and done.stdout == "", done.stderr
        line = error_line(done)
        assert line.startswith(f"ecli: error: {archive}: ") and message in line, line
        assert "Traceback" not in done.stderr
    home = Path(far["ECLI_HOME"])
    stored = [p for p in (home / "cache" / "oci").rglob("*")
              if p.is_file() and p.name not in (".lock", "oci-layout", "index.json")]
    assert stored == [], "nothing of a refused archive is kept"
    refs = home / "cache" / "oci" / "index.json"
    assert not refs.exists() or json.loads(refs.read_text())["manifests"] == []
    assert not (home / "config" / "sources.json").exists()
    assert not (home / "state" / "archives").exists() or not any(
        (home / "state" / "archives").iterdir())
