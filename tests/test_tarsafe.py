"""A corpus of hostile bundle archives: each refused with one clear line, nothing left behind.

Each case builds its archive here (tar headers are easy to forge with
tarfile), extracts it with ecli.oci.tarsafe into a fresh folder, and checks the
error names the problem, the destination does not exist, and nothing
appeared outside it. One case goes end to end through `ecli run`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ecli.errors import ArtifactError
from ecli.oci import tarsafe

from ecli_process import run_ecli

Builder = Callable[[tarfile.TarFile], None]


def _file(tar: tarfile.TarFile, name: str, data: bytes = b"x", mode: int = 0o644,
          size: int | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data) if size is None else size
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _entry(tar: tarfile.TarFile, name: str, kind: bytes, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    tar.addfile(info)


def _many(count: int) -> Builder:
    def build(tar: tarfile.TarFile) -> None:
        for i in range(count):
            _file(tar, f"f{i}", b"")
    return build


HOSTILE: dict[str, tuple[Builder, str]] = {
    "absolute path": (lambda t: _file(t, "/etc/evil"), "is an absolute path"),
    "dot-dot": (lambda t: _file(t, "../evil"), "goes up with '..'"),
    "dot-dot inside": (lambda t: _file(t, "a/../../evil"), "goes up with '..'"),
    "absolute symlink": (lambda t: _entry(t, "l", tarfile.SYMTYPE, "/etc/passwd"),
                         "only relative links"),
    "escaping symlink": (lambda t: _entry(t, "a/l", tarfile.SYMTYPE, "../../x"),
                         "points outside the bundle"),
    "write through symlink": (
        lambda t: (_entry(t, "d", tarfile.SYMTYPE, "."), _file(t, "d/x")),
        "lies below the symbolic link"),
    "chained symlinks escape": (
        lambda t: (_entry(t, "a/y", tarfile.SYMTYPE, ".."),
                   _entry(t, "x", tarfile.SYMTYPE, "a/y/../..")),
        "resolves outside the bundle"),
    "hard link": (lambda t: (_file(t, "a"), _entry(t, "b", tarfile.LNKTYPE, "a")),
                  "is a hard link"),
    "hard link outside": (lambda t: _entry(t, "b", tarfile.LNKTYPE, "/etc/shadow"),
                          "is a hard link"),
    "character device": (lambda t: _entry(t, "null", tarfile.CHRTYPE), "is a device file"),
    "block device": (lambda t: _entry(t, "sda", tarfile.BLKTYPE), "is a device file"),
    "fifo": (lambda t: _entry(t, "pipe", tarfile.FIFOTYPE), "is a FIFO"),
    "duplicate member": (lambda t: (_file(t, "a"), _file(t, "./a")), "appears twice"),
    "file then folder below it": (lambda t: (_file(t, "a"), _file(t, "a/b")),
                                  "lies below the file"),
    "backslash name": (lambda t: _file(t, "..\\evil"), "backslash"),
    "long component": (lambda t: _file(t, "a" * 300), "has a component over 255"),
    "long name": (lambda t: _file(t, "/".join(["abcdefgh"] * 130)), "longer than 1024"),
    "root itself": (lambda t: _file(t, "./"), "names the root itself"),
    "too many members": (_many(40), "more than 32 members"),
    "too big unpacked": (lambda t: _file(t, "big", b"\0" * 5000), "unpacks to more than 4096"),
}


def _build(path: Path, builder: Builder) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        builder(tar)
    return path


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_refused(tmp_path, case):
    builder, message = HOSTILE[case]
    archive = _build(tmp_path / "bad.tar.gz", builder)
    root = tmp_path / "out"
    root.mkdir()
    destination = root / "bundle"
    with pytest.raises(ArtifactError) as caught:
        tarsafe.extract(archive, destination, where="bad.tar.gz",
                        limits=tarsafe.Limits(max_members=32, max_bytes=4096))
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.message.startswith("bad.tar.gz: ")
    assert list(root.iterdir()) == []  # not even the temporary folder
    assert not (tmp_path / "evil").exists() and not Path("/etc/evil").exists()


def test_gzip_bomb_stops_at_the_limit(tmp_path):
    """64 MiB of zeros in a 64 KiB download: refused before anything is written."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        _file(tar, "zeros", b"\0" * (64 << 20))
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(gzip.compress(raw.getvalue(), compresslevel=9))
    assert archive.stat().st_size < (1 << 20)
    with pytest.raises(ArtifactError, match="unpacks to more than"):
        tarsafe.extract(archive, tmp_path / "out", limits=tarsafe.Limits(max_bytes=1 << 20))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [b"", b"not a tar at all", b"\x1f\x8b\x08garbage"])
def test_not_an_archive(tmp_path, content):
    archive = tmp_path / "x.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(ArtifactError, match=r"not a valid tar\.gz|names the root"):
        tarsafe.extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_good_archive_keeps_only_the_executable_bit(tmp_path):
    def build(tar: tarfile.TarFile) -> None:
        _file(tar, "./bin/tool", b"#!/bin/sh\n", mode=0o4777)
        _file(tar, "share/x", b"x", mode=0o666)
        _entry(tar, "bin/alias", tarfile.SYMTYPE, "tool")
    archive = _build(tmp_path / "ok.tar.gz", build)
    tarsafe.extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "bin" / "tool").stat().st_mode & 0o7777 == 0o755
    assert (tmp_path / "out" / "share" / "x").stat().st_mode & 0o7777 == 0o644
    assert os.readlink(tmp_path / "out" / "bin" / "alias") == "tool"


def test_ecli_run_refuses_a_hostile_bundle(registry, tmp_path):
    from ecli.oci import artifact
    from ecli.oci import reference as references
    from ecli.oci import registry as oci_registry
    from ecli.oci.config import PackageConfig
    from ecli.oci.store import Store

    archive = _build(tmp_path / "bundle.tar.gz", lambda t: _file(t, "../../escaped", b"x"))
    store = Store(tmp_path / "oci")
    config = PackageConfig(name="evil", version="1.0.0", kind="bundle",
                           entrypoint=("bin/evil",))
    artifact.create(store, config, [archive], tag="1.0.0")
    ref = references.parse(f"{registry.host}/corpus/evil:1.0.0")
    oci_registry.push(store, ref)
    env = {**os.environ, "ECLI_HOME": str(tmp_path / "home"), "ECLI_DEFAULT_SOURCE": ""}
    result = run_ecli("run", str(ref), env=env)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ecli: error")]
    assert len(errors) == 1 and errors[0].startswith("ecli: error: evil (sha256:")
    assert "goes up with '..'" in result.stderr
    bundles = tmp_path / "home" / "cache" / "bundles"
    assert not bundles.exists() or list(bundles.iterdir()) == []
    assert not (tmp_path / "escaped").exists()
    assert json.loads((tmp_path / "home" / "cache" / "oci" / "index.json").read_text())
