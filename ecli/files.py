"""Files shared between processes: written atomically, changed under a lock.

Readers see the old content or the new, never a mix (`write_atomic`); a
read-modify-write of a shared file happens under one exclusive lock across
processes (`locked`). A temporary file or folder carries its creator's pid in
its name (`owned_prefix`), so the next command that takes the lock over that
area removes what a killed process left (`remove_orphans`), and never what a
live one is still writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ecli.errors import EcliError


def read_limited(path: Path, limit: int, error: type[EcliError], where: str) -> bytes:
    """A whole file of at most `limit` bytes (an eBPF object, a wasm module), read only
    after its size is known; one line naming `where` otherwise."""
    try:
        if path.stat().st_size > limit:
            raise error(f"{where}: larger than {limit >> 20} MiB")
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{where}: cannot read: {exc.strerror}") from None


def write_atomic(path: Path, data: bytes, mode: int = 0o644, tmp_dir: Path | None = None,
                 *, durable: bool = True) -> None:
    """Write to a temporary file, fsync it, then rename over `path`.

    The temporary file is beside `path` unless `tmp_dir` (on the same file
    system) is given, as the content store does to keep its folders clean.
    `durable=False` skips the fsync, for scratch folders deleted within the
    same command, where it would only cost time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir or path.parent, prefix=owned_prefix(f".{path.name}"),
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive fcntl lock on `lock_file` (created if missing) for the block.

    The lock is the kernel's, so it is released when the process dies, even
    by `kill -9`; the file itself is never removed (removing it would let two
    processes lock two different files).
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


_OWNER = re.compile(r"~(\d+)~")


def owned_prefix(stem: str) -> str:
    """A temporary name's prefix that says which process owns it: `STEM~PID~`."""
    return f"{stem}~{os.getpid()}~"


def remove_orphans(folder: Path) -> int:
    """Remove the temporary files and folders in `folder` whose owner (`owned_prefix`) is
    dead; return how many. An owner is alive while its pid runs a process that started
    before the entry was last written (a reused pid does not keep a leftover)."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        owner = _OWNER.search(entry.name)
        if owner is None or int(owner.group(1)) == os.getpid():
            continue
        try:
            written = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if _alive_since(int(owner.group(1)), written):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)
        removed += 1
    return removed


def _alive_since(pid: int, written: float) -> bool:
    """Whether `pid` is a live process that started no later than `written`."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(line for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, StopIteration):
        return False
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie writes nothing more
        return False
    started = int(boot.split()[1]) + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= written + 1
