"""Reading BPF iterators (`iter/task`, `iter/bpf_map`, ...): their text, line by line.

An iterator program runs only when its link is read: each `bpf_iter_create`
gives a fresh file whose reads run the program over every object (every task,
every map...) and return what it wrote with `bpf_seq_printf`, until EOF. The
runner reads each iterator once its programs are attached.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from ecli.errors import RuntimeLoadError
from ecli.runtime import libbpf

CHUNK = 64 * 1024


def read_lines(link: int, where: str, program: str) -> Iterator[str]:
    """The lines one pass of the iterator behind `link` (a `struct bpf_link *`) writes."""
    lib = libbpf.get()
    fd = lib.bpf_iter_create(lib.bpf_link__fd(link))
    if fd < 0:
        error = libbpf.last_errno(fd)
        raise RuntimeLoadError(f"{where}: cannot read iterator {program}: "
                               f"{libbpf.strerror(error)}")
    try:
        pending = b""
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except OSError as exc:
                raise RuntimeLoadError(f"{where}: reading iterator {program} failed: "
                                       f"{exc.strerror}") from None
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            yield from (line.decode("utf-8", "replace") for line in lines)
        if pending:
            yield pending.decode("utf-8", "replace")
    finally:
        os.close(fd)
