"""fsslower on the real kernel (syscall tracepoints, no kprobes): a process's reads, writes,
open and fsync of one file, with bytes, offsets, the file system and the file's name; the
threshold and the file-system filter keep them out; pipes never count.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_catalog import Held, packages

pytestmark = pytest.mark.root
__all__ = ["packages"]  # the session's built examples, shared with test_catalog.py

# Three 4 KiB writes, an fsync, a read of it all and a pread at 4096, on `path`.
FILE_WORK = """
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
for letter in b"abc": os.write(fd, bytes([letter]) * 4096)
os.fsync(fd)
os.lseek(fd, 0, os.SEEK_SET)
assert len(os.read(fd, 65536)) == 12288
assert os.pread(fd, 100, 4096) == b"b" * 100
os.close(fd)
"""


@pytest.fixture
def disk_file() -> Iterator[Path]:
    """A file on the disk's file system (/var/tmp: /tmp may be tmpfs)."""
    path = Path("/var/tmp") / f"ecli-fsslower-{uuid.uuid4().hex[:8]}"
    yield path
    path.unlink(missing_ok=True)


def file_system(path: Path) -> str:
    return subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", str(path.parent)],
                          capture_output=True, text=True, check=True).stdout.strip()


def watch(packages, path: Path, *args: str) -> list[dict]:
    """fsslower's events about one Python child doing FILE_WORK on `path`."""
    child = Held(FILE_WORK, preamble=f"path = {str(path)!r}")
    records = packages.watch("fsslower", child, *args)
    return [r for r in records if set(r) != {"time", "final", "maps"}]


def test_every_operation_on_a_file_with_bytes_offsets_and_file_system(packages, disk_file):
    events = watch(packages, disk_file, "--min-us", "0")
    assert {e["file"] for e in events} == {disk_file.name}  # the stdin pipe never counts
    assert {e["fs"] for e in events} == {file_system(disk_file)}
    by_op = {op: [e for e in events if e["op"] == op] for op in ("OPEN", "WRITE", "FSYNC", "READ")}
    assert len(by_op["OPEN"]) == 1 and len(by_op["FSYNC"]) == 1
    assert [(e["bytes"], e["offset"]) for e in by_op["WRITE"]] == [
        (4096, 0), (4096, 4096), (4096, 8192)]
    reads = sorted((e["bytes"], e["offset"]) for e in by_op["READ"])
    assert (12288, 0) in reads and (100, 4096) in reads  # read(), then pread() at 4096
    assert all(e["latency_ns"].endswith(("ns", "us", "ms", "s")) for e in events)


def test_the_threshold_keeps_fast_operations_out(packages, disk_file):
    assert watch(packages, disk_file, "--min-us", "5000000") == []  # nothing takes 5 s


def test_the_file_system_filter(packages, disk_file):
    fs = file_system(disk_file)
    other = "tmpfs" if fs != "tmpfs" else "ext4"
    assert watch(packages, disk_file, "--min-us", "0", "--fs", other) == []
    kept = watch(packages, disk_file, "--min-us", "0", "--fs", fs)
    assert kept and {e["fs"] for e in kept} == {fs}
