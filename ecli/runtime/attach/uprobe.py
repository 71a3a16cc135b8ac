"""Uprobes and USDT probes: in every process, or in the one `--pid` names; a plain
`SEC("uprobe")` (no target in its name) on the binary and symbol the user names."""

from __future__ import annotations

import ctypes
import os

from ecli.errors import RuntimeLoadError
from ecli.kernel.sections import Section
from ecli.runtime import libbpf
from ecli.runtime.attach import LibbpfLink, checked
from ecli.runtime.attach.tracing import ensure_tracefs
from ecli.runtime.elf import is_elf
from ecli.runtime.options import AttachSettings


def attach(program: int, name: str, section: str, found: Section, settings: AttachSettings,
           where: str) -> list[LibbpfLink]:
    ensure_tracefs()
    lib = libbpf.get()
    if "binary" in found.options_for(section):
        return [_attach_given(program, name, section, found, settings, where)]
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


def _attach_given(program: int, name: str, section: str, found: Section,
                  settings: AttachSettings, where: str) -> LibbpfLink:
    """A uprobe on the function `--symbol` of `--binary`, in `--pid` or every process."""
    binary, symbol = settings.binary, settings.symbol
    if not binary or not symbol:
        raise RuntimeLoadError(f"{where}: section {section!r} of {name} names no target: "
                               "give --binary and --symbol")
    _check_binary(binary, where)
    options = libbpf.UprobeOpts(sz=ctypes.sizeof(libbpf.UprobeOpts),
                                retprobe=found.pattern.startswith("uretprobe"),
                                func_name=symbol.encode())
    pid = -1 if settings.pid is None else settings.pid
    link = libbpf.get().bpf_program__attach_uprobe_opts(program, pid, binary.encode(), 0,
                                                        ctypes.byref(options))
    return checked(link, where, name, f"{section} {binary}:{symbol}", found)


def _check_binary(binary: str, where: str) -> None:
    """A path the user gave must be an ELF file (libbpf's own error for one that is not is a
    number and three lines of log); a bare name is the dynamic loader's to find."""
    if "/" not in binary:
        return
    if not os.path.exists(binary):
        problem = "no such file"
    elif not os.path.isfile(binary):
        problem = "not a regular file"
    elif not is_elf(binary):
        problem = "not an ELF program or library"
    else:
        return
    raise RuntimeLoadError(f"{where}: --binary {binary}: {problem}")


def _split_target(found: Section, section: str, parts: int, where: str) -> list[str]:
    """'uprobe//bin/bash:readline' -> ['/bin/bash', 'readline']."""
    fields = found.attach_point(section).split(":")
    if len(fields) != parts or not all(fields):
        raise RuntimeLoadError(f"{where}: cannot read the attach target of section {section!r}")
    return fields
