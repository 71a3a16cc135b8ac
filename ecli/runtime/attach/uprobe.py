"""Uprobes and USDT probes: in every process, or in the one `--pid` names."""

from __future__ import annotations

import ctypes

from ecli.errors import RuntimeLoadError
from ecli.kernel.sections import Section
from ecli.runtime import libbpf
from ecli.runtime.attach import LibbpfLink, checked
from ecli.runtime.attach.tracing import ensure_tracefs
from ecli.runtime.options import AttachSettings


def attach(program: int, name: str, section: str, found: Section, settings: AttachSettings,
           where: str) -> list[LibbpfLink]:
    ensure_tracefs()
    lib = libbpf.get()
    if settings.pid is None or found.kind == "uprobe_multi":
        return [checked(lib.bpf_program__attach(program), where, name, section, found)]
    if found.hook == "usdt":
        path, provider, probe = _split_target(found, section, 3, where)
        link = lib.bpf_program__attach_usdt(program, settings.pid, path.encode(),
                                            provider.encode(), probe.encode(), None)
        return [checked(link, where, name, section, found)]
    path, function = _split_target(found, section, 2, where)
    options = libbpf.UprobeOpts(sz=ctypes.sizeof(libbpf.UprobeOpts),
                                retprobe=found.pattern.startswith("uretprobe"),
                                func_name=function.encode())
    link = lib.bpf_program__attach_uprobe_opts(program, settings.pid, path.encode(), 0,
                                               ctypes.byref(options))
    return [checked(link, where, name, section, found)]


def _split_target(found: Section, section: str, parts: int, where: str) -> list[str]:
    """'uprobe//bin/bash:readline' -> ['/bin/bash', 'readline']."""
    fields = found.attach_point(section).split(":")
    if len(fields) != parts or not all(fields):
        raise RuntimeLoadError(f"{where}: cannot read the attach target of section {section!r}")
    return fields
