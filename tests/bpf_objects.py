"""Compile eBPF objects for tests with the real toolchain (clang, bpftool)."""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ROOT / "ecli" / "include"
BUILD = ROOT / ".run" / "test-objects"
MULTIARCH_INCLUDE = f"/usr/include/{platform.machine()}-linux-gnu"  # asm/ headers


@functools.cache
def vmlinux_dir() -> Path:
    BUILD.mkdir(parents=True, exist_ok=True)
    header = BUILD / "vmlinux.h"
    if not header.exists():
        dump = subprocess.run(
            ["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
            check=True, capture_output=True).stdout
        tmp = header.with_suffix(".tmp")
        tmp.write_bytes(dump)
        tmp.replace(header)
    return BUILD


def compile_bpf(source: Path, out_dir: Path) -> Path:
    """clang -target bpf -g -O2, as `ecli build` does; returns the object path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = out_dir / (source.name.removesuffix(".c") + ".o")
    subprocess.run(
        ["clang", "-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_x86",
         "-I", str(vmlinux_dir()), "-I", str(INCLUDE), "-I", MULTIARCH_INCLUDE,
         "-c", str(source), "-o", str(obj)],
        check=True, capture_output=True)
    return obj


OPENSNOOP = ROOT / "examples" / "opensnoop" / "opensnoop.bpf.c"
KPROBE_ONLY = ROOT / "tests" / "bpf" / "kprobe_only.bpf.c"


def compile_objects(out_dir: Path, *sources: Path) -> dict[str, Path]:
    """Compile several sources; the objects keyed by name (`opensnoop`, `kprobe_only`)."""
    return {s.name.removesuffix(".bpf.c"): compile_bpf(s, out_dir) for s in sources}
