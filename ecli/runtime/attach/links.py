"""The two kinds of link every hook returns, and the one translation of attach errors."""

from __future__ import annotations

import errno as errnos
import os

from ecli.errors import KernelFeatureError, RuntimeLoadError
from ecli.kernel.sections import FEATURES, Section
from ecli.runtime import libbpf

# Features a kernel may lack although the program type loads: a failed attach names them.
_OPTIONAL_FEATURES = ("kprobe", "fentry")


class LibbpfLink:
    """A `struct bpf_link *` of libbpf."""

    def __init__(self, pointer: int) -> None:
        self.pointer: int | None = pointer

    def close(self) -> None:
        if self.pointer:
            libbpf.get().bpf_link__destroy(self.pointer)
            self.pointer = None


class FdLink:
    """A bare BPF link file descriptor (BPF_LINK_CREATE)."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def checked(link: int | None, where: str, name: str, section: str, found: Section, *,
            interface: str | None = None) -> LibbpfLink:
    """The link libbpf returned, or the error that explains why there is none."""
    if link:
        return LibbpfLink(link)
    raise attach_error(libbpf.last_errno(), where, name, section, found, interface=interface)


def attach_error(error: int, where: str, name: str, section: str, found: Section, *,
                 interface: str | None = None) -> Exception:
    what = f"{where}: cannot attach {name} ({section})"
    if found.feature in _OPTIONAL_FEATURES:
        feature = FEATURES[found.feature]
        return KernelFeatureError(f"{what}: this kernel does not support {feature}",
                                  hint=f"the package needs {feature}; see 'ecli doctor'")
    if error == errnos.EBUSY and interface:
        return RuntimeLoadError(f"{what}: interface {interface} already has a program attached",
                                hint="detach it first (ip link set dev IFACE xdp off)")
    if error == errnos.ENOENT and found.hook in ("uprobe", "usdt"):
        return RuntimeLoadError(f"{what}: the binary or its symbol was not found")
    tail = [line for line in libbpf.get().take_log() if line.strip()][-3:]
    return RuntimeLoadError(f"{what}: {libbpf.strerror(error)}"
                            + ("\n" + "\n".join(tail) if tail else ""))
