"""Extract a tar.gz that nobody has vetted, refusing everything that could escape.

Every member is checked before a byte of it is written, and the files are
written by this module (never by `tarfile.extract`): only regular files,
directories and symbolic links that stay inside the root; no absolute names,
no `..`, no member below a symbolic link, no member twice; at most
`max_members` members and `max_bytes` unpacked (the decompressed stream is
counted as it is read, so a gzip bomb stops at the limit, whatever the tar
headers claim). Modes keep only the executable bit. The whole extraction
goes to a temporary folder that the caller renames into place, so an
archive refused half-way leaves nothing visible (and one whose extraction was
killed leaves a folder named with its pid, `ecli.files.remove_orphans`). docs/formats.md (kind
`bundle`) states the rules for package authors.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ecli.errors import ArtifactError
from ecli.files import owned_prefix

MAX_MEMBERS = 10_000
MAX_BYTES = 1 << 30
MAX_NAME_BYTES = 1024
MAX_COMPONENT_BYTES = 255
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    max_members: int = MAX_MEMBERS
    max_bytes: int = MAX_BYTES


class _CountingReader:
    """Wraps the raw (compressed) file; counts decompressed bytes via the tar stream."""

    def __init__(self, handle: IO[bytes], limit: int, where: str) -> None:
        self.handle, self.limit, self.where, self.read_bytes = handle, limit, where, 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.read_bytes += len(data)
        if self.read_bytes > self.limit:
            raise ArtifactError(f"{self.where}: unpacks to more than {self.limit} bytes "
                                "(a tar or gzip bomb?)")
        return data


def extract(archive: Path, destination: Path, *, where: str = "",
            limits: Limits = Limits()) -> None:
    """Extract `archive` (tar, optionally gzip) into `destination`, which must not exist.

    On any refusal nothing is left at `destination`.
    """
    where = where or str(archive)
    if destination.exists():
        raise ArtifactError(f"{destination} exists already")
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=destination.parent,
                                 prefix=owned_prefix(f".{destination.name}")))
    try:
        _extract_into(archive, work, where, limits)
        _check_links_resolve_inside(work, where)
        os.replace(work, destination)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _open_stream(archive: Path, where: str, limits: Limits) -> tuple[IO[bytes], IO[bytes]]:
    import gzip

    raw = open(archive, "rb")  # noqa: SIM115 (closed by the caller)
    magic = raw.read(2)
    raw.seek(0)
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
    # Count what the tar reader consumes *after* decompression: headers, data, padding.
    return raw, _CountingReader(stream, limits.max_bytes + 512 * (limits.max_members + 4),
                                where)  # type: ignore[return-value]


def _extract_into(archive: Path, root: Path, where: str, limits: Limits) -> None:
    import gzip
    import zlib

    raw, stream = _open_stream(archive, where, limits)
    seen: dict[str, str] = {}  # normalised name -> "dir" | "file" | "link"
    total = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            for count, member in enumerate(tar, start=1):
                if count > limits.max_members:
                    raise ArtifactError(f"{where}: more than {limits.max_members} members")
                name = _check_name(member.name, where)
                _check_parents(name, seen, where)
                if name in seen:
                    raise ArtifactError(f"{where}: {member.name!r} appears twice")
                target = root / name
                if member.isdir():
                    target.mkdir(mode=0o755, parents=True, exist_ok=True)
                    seen[name] = "dir"
                elif member.isreg():
                    total += member.size
                    if total > limits.max_bytes:
                        raise ArtifactError(f"{where}: unpacks to more than {limits.max_bytes} "
                                            "bytes")
                    _write_file(tar, member, target, where)
                    seen[name] = "file"
                elif member.issym():
                    _check_link(name, member.linkname, where)
                    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                    os.symlink(member.linkname, target)
                    seen[name] = "link"
                else:
                    raise ArtifactError(f"{where}: {member.name!r} is a {_type_name(member)}; "
                                        "a bundle may hold only files, folders and links "
                                        "inside it")
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ArtifactError(f"{where}: not a valid tar.gz ({exc})") from None
    finally:
        raw.close()


def _type_name(member: tarfile.TarInfo) -> str:
    if member.islnk():
        return "hard link"
    if member.ischr() or member.isblk():
        return "device file"
    if member.isfifo():
        return "FIFO"
    return f"member of type {member.type!r}"


def _check_name(name: str, where: str) -> str:
    if not name or "\x00" in name or "\\" in name:
        raise ArtifactError(f"{where}: member name {name!r} is empty or has NUL or backslash")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ArtifactError(f"{where}: member name is longer than {MAX_NAME_BYTES} bytes")
    if name.startswith("/"):
        raise ArtifactError(f"{where}: {name!r} is an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArtifactError(f"{where}: {name!r} goes up with '..'")
    if not parts:
        raise ArtifactError(f"{where}: member name {name!r} names the root itself")
    if any(len(p.encode()) > MAX_COMPONENT_BYTES for p in parts):
        raise ArtifactError(f"{where}: {name[:80]!r}... has a component over "
                            f"{MAX_COMPONENT_BYTES} bytes")
    return "/".join(parts)


def _check_parents(name: str, seen: dict[str, str], where: str) -> None:
    parts = name.split("/")
    for i in range(1, len(parts)):
        parent = "/".join(parts[:i])
        kind = seen.get(parent)
        if kind == "link":
            raise ArtifactError(f"{where}: {name!r} lies below the symbolic link {parent!r}")
        if kind == "file":
            raise ArtifactError(f"{where}: {name!r} lies below the file {parent!r}")


def _check_link(name: str, link: str, where: str) -> None:
    if not link or "\x00" in link or link.startswith("/"):
        raise ArtifactError(f"{where}: link {name!r} points to {link!r}: only relative "
                            "links inside the bundle are allowed")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), link))
    if resolved == ".." or resolved.startswith("../") or resolved.startswith("/"):
        raise ArtifactError(f"{where}: link {name!r} -> {link!r} points outside the bundle")


def _check_links_resolve_inside(root: Path, where: str) -> None:
    """Each link checked alone stays inside; chains of links must too, once all exist."""
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(root):
        for entry in (*dirs, *files):
            path = os.path.join(folder, entry)
            if os.path.islink(path):
                resolved = os.path.realpath(path)
                if resolved != real_root and not resolved.startswith(real_root + os.sep):
                    name = os.path.relpath(path, root)
                    raise ArtifactError(f"{where}: link {name!r} resolves outside the bundle "
                                        "through other links")


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path,
                where: str) -> None:
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        raise ArtifactError(f"{where}: cannot read {member.name!r}")
    mode = 0o755 if member.mode & 0o111 else 0o644
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out:
        remaining = member.size
        while remaining > 0:
            chunk = source.read(min(_CHUNK, remaining))
            if not chunk:
                raise ArtifactError(f"{where}: {member.name!r} is truncated")
            out.write(chunk)
            remaining -= len(chunk)
    os.chmod(target, mode)
