"""Write the tar.gz layer of a kind `bundle` package, byte for byte reproducible.

Same inputs, same bytes, same digest: entries sorted, owners root, times zero
(or SOURCE_DATE_EPOCH), modes normalised to 0755 (executables) and 0644, no
gzip time or file name. Paths are relative, with no `..`, so the archive can
be unpacked safely; docs/formats.md describes how ecli unpacks and runs it.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ecli.errors import BuildError

_GZIP_LAST_TIME = 2**32 - 1  # gzip keeps the time in 32 bits


def source_date_epoch() -> int | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org's convention), None when unset: the
    time a build writes (an archive's entries, the hub's generation time). Read before
    the build runs, so a bad value costs nothing."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or int(text) > _GZIP_LAST_TIME:
        raise BuildError(f"SOURCE_DATE_EPOCH={text!r} is not a time in whole seconds since "
                         "1970 (0 to 4294967295)",
                         hint="set it to `git log -1 --format=%ct`, or unset it")
    return int(text)


def write(target: Path, files: Mapping[str, Path], mtime: int = 0) -> Path:
    """Pack `files` (path in the bundle -> file on disk) into `target`, every entry
    dated `mtime` (seconds since 1970)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in sorted(_directories(files)):
            tar.addfile(_info(directory, tarfile.DIRTYPE, 0o755, 0, mtime))
        for name in sorted(files):
            source = files[name]
            if not source.is_file():
                raise BuildError(f"the build did not produce {source}",
                                 hint=f"it goes into the bundle as {name}")
            data = source.read_bytes()
            mode = 0o755 if name.startswith("bin/") or os.access(source, os.X_OK) else 0o644
            tar.addfile(_info(name, tarfile.REGTYPE, mode, len(data), mtime), io.BytesIO(data))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as out, \
            gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=mtime) as packed:
        packed.write(raw.getvalue())
    partial.replace(target)
    return target


def _directories(files: Mapping[str, Path]) -> set[str]:
    found = set()
    for name in files:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts or not name:
            raise BuildError(f"bundle path {name!r} must be relative, without '..'")
        found.update(str(parent) for parent in path.parents if str(parent) != ".")
    return found


def _info(name: str, kind: bytes, mode: int, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
