"""Compile eBPF objects for tests with the real toolchain (clang, bpftool): for this
kernel, or for another kernel image's architecture and BTF (the arm64 guest's)."""

from __future__ import annotations

import functools
import platform
import struct
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ROOT / "ecli" / "include"
BUILD = ROOT / ".run" / "test-objects"
HOST_BTF = Path("/sys/kernel/btf/vmlinux")
# uname -m -> the __TARGET_ARCH_* libbpf's bpf_tracing.h reads (PT_REGS_PARM*, ksyscall)
TARGET_ARCH = {"x86_64": "x86", "aarch64": "arm64"}
# struct btf_header: magic 0xeB9F, version 1, flags 0, hdr_len 24, then the offsets
BTF_HEADER = struct.Struct("<HBBIIIII")
BTF_MAGIC = BTF_HEADER.pack(0xEB9F, 1, 0, 24, 0, 0, 0, 0)[:8]


@functools.cache
def vmlinux_dir(btf: Path = HOST_BTF) -> Path:
    """A folder holding the vmlinux.h of `btf` (this kernel's by default), made once."""
    folder = BUILD if btf == HOST_BTF else BUILD / f"vmlinux-{btf.stem}"
    folder.mkdir(parents=True, exist_ok=True)
    header = folder / "vmlinux.h"
    if not header.exists():
        dump = subprocess.run(["bpftool", "btf", "dump", "file", str(btf), "format", "c"],
                              check=True, capture_output=True).stdout
        tmp = header.with_suffix(".tmp")
        tmp.write_bytes(dump)
        tmp.replace(header)
    return folder


def image_btf(vmlinuz: Path) -> Path:
    """The raw BTF (.BTF) cut out of an uncompressed kernel image (Debian's arm64 vmlinuz
    is one: an EFI `Image`), so a guest kernel's vmlinux.h is made without booting it."""
    out = BUILD / f"{vmlinuz.name}.btf"
    if out.exists():
        return out
    image = vmlinuz.read_bytes()
    start = image.find(BTF_MAGIC)
    if start < 0:
        raise ValueError(f"{vmlinuz}: no BTF in it (compressed, or no CONFIG_DEBUG_INFO_BTF)")
    _, _, _, size, type_off, type_len, str_off, str_len = BTF_HEADER.unpack_from(image, start)
    end = start + size + max(type_off + type_len, str_off + str_len)
    BUILD.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(image[start:end])
    tmp.replace(out)
    return out


def compile_bpf(source: Path, out_dir: Path, machine: str = platform.machine(),
                btf: Path = HOST_BTF) -> Path:
    """clang -target bpf -g -O2, as `ecli build` does, for `machine`'s kernel whose BTF is
    `btf` (this one by default); returns the object path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = out_dir / (source.name.removesuffix(".c") + ".o")
    subprocess.run(
        ["clang", "-target", "bpf", "-g", "-O2", f"-D__TARGET_ARCH_{TARGET_ARCH[machine]}",
         "-I", str(vmlinux_dir(btf)), "-I", str(INCLUDE),
         "-I", f"/usr/include/{platform.machine()}-linux-gnu",  # asm/ headers
         "-c", str(source), "-o", str(obj)],
        check=True, capture_output=True)
    return obj


OPENSNOOP = ROOT / "examples" / "opensnoop" / "opensnoop.bpf.c"
KPROBE_ONLY = ROOT / "tests" / "bpf" / "kprobe_only.bpf.c"


def compile_objects(out_dir: Path, *sources: Path) -> dict[str, Path]:
    """Compile several sources; the objects keyed by name (`opensnoop`, `kprobe_only`)."""
    return {s.name.removesuffix(".bpf.c"): compile_bpf(s, out_dir) for s in sources}
