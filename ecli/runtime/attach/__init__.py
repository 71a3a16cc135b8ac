"""Attaching programs already loaded, one module per hook family, behind one `Link` protocol.

The runner calls `hooks.attach_program` for each program of a `LoadedObject`
after it is loaded; the section's hook family comes from the catalogue
(`ecli.kernel.sections`): `tracing` (tracepoints, raw tracepoints, kprobes,
fentry/fexit, LSM, iterators: libbpf attaches them from the section name),
`uprobe` (uprobes and USDT), `network` (XDP, tc/tcx), `cgroup` and
`perf_event`. Every link is tied to a file descriptor of this process, so the
kernel detaches it if ecli dies. This module and `settings` load no C
library: argument parsing imports them; the hook modules do.
"""

from __future__ import annotations

from typing import Protocol

from ecli.runtime.attach.settings import AttachSettings


class Link(Protocol):
    """One attachment; closing it detaches the program."""

    def close(self) -> None: ...


__all__ = ["AttachSettings", "Link"]
