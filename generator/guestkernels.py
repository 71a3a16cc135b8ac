"""The kernel matrix's pieces, fetched from Debian's archive with apt, never by hand.

`generator/kernels.toml` names each guest kernel by a Debian meta-package;
`apt-cache depends` turns it into today's kernel package, `apt-get download`
fetches it (and the arm64 userland the arm64 guest runs Python in), `dpkg -x`
unpacks it under the work folder. The cloud kernels build virtio-pci, FUSE and
virtiofs as modules (no 9p at all), so the modules the guest needs to mount
the host's root are picked here, with their dependencies, read from each
module's own `.modinfo` (the .deb ships no modules.dep).
"""

from __future__ import annotations

import lzma
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ecli.errors import EcliError

MATRIX_FILE = Path(__file__).with_name("kernels.toml")
# What the guest's init loads to reach the host's root over virtiofs, and its scratch
# disk (ext4 itself is built into Debian's cloud kernels); then what a real system's
# modprobe would load on demand and the guest's busybox cannot: clsact and the BPF tc
# classifier (classic tc filters, on kernels without tcx).
GUEST_MODULES = ("virtio_pci", "virtio_mmio", "virtiofs", "virtio_blk", "sch_ingress",
                 "cls_bpf")
# Debian packages unpacked into the arm64 root: a shell (busybox), Python and
# the C libraries ecli loads through ctypes (libbpf and what it links), and bpftool
# (with libcap2), which tests/guest_attach.py lists the loaded programs with.
ARM64_USERLAND = ("busybox-static", "libc6", "python3.11-minimal", "libpython3.11-minimal",
                  "libpython3.11-stdlib", "libffi8", "zlib1g", "libexpat1", "libssl3",
                  "libbz2-1.0", "liblzma5", "libbpf1", "libelf1", "libzstd1", "libuuid1",
                  "bash", "libtinfo6", "libgcc-s1",  # libgcc-s1: Rust bundles
                  "bpftool", "libcap2")
ARCHES = {"amd64": "x86_64", "arm64": "aarch64"}


class KernelSetupError(EcliError):
    """The matrix file is wrong, or apt could not give a kernel it names."""


@dataclass(frozen=True)
class KernelSpec:
    """One row of kernels.toml."""

    name: str
    arch: str  # amd64, arm64, or "host"
    package: str = ""


@dataclass(frozen=True)
class GuestKernel:
    """A kernel unpacked and ready to boot."""

    spec: KernelSpec
    release: str  # uname -r inside the guest: 6.1.0-57-cloud-amd64
    vmlinuz: Path
    modules: tuple[Path, ...]  # in load order, uncompressed


def read_matrix(path: Path = MATRIX_FILE) -> list[KernelSpec]:
    """The declared matrix; a wrong row is one error naming the file and row."""
    try:
        rows = tomllib.loads(path.read_text(encoding="utf-8")).get("kernel", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KernelSetupError(f"{path}: {exc}") from None
    specs = []
    for number, row in enumerate(rows, 1):
        arch = row.get("arch", "")
        if not row.get("name") or (arch not in ARCHES and arch != "host") or (
                arch != "host" and not row.get("package")):
            raise KernelSetupError(f"{path}: kernel #{number}: needs name, arch "
                                   f"(amd64, arm64 or host) and package")
        specs.append(KernelSpec(row["name"], arch, row.get("package", "")))
    return specs


def resolve_package(meta: str, arch: str) -> str:
    """The kernel package a meta-package depends on today (`linux-image-6.1.0-57-cloud-amd64`)."""
    out = _run(["apt-cache", "depends", f"{meta}:{arch}"], f"apt-cache depends {meta}:{arch}")
    found = re.findall(r"Depends: (linux-image-[^\s:]+)", out)
    if not found:
        raise KernelSetupError(f"{meta}:{arch}: apt-cache names no kernel package it depends on",
                               hint=_arch_hint(arch))
    return found[0]


def download(packages: list[str], arch: str, into: Path) -> list[Path]:
    """`apt-get download` each package (skipping ones already here); the .deb files."""
    into.mkdir(parents=True, exist_ok=True)
    debs = []
    for package in packages:
        have = sorted(into.glob(f"{package}_*_{arch}.deb"))
        if not have:
            _run(["apt-get", "download", "-q", f"{package}:{arch}"], f"apt-get download "
                 f"{package}:{arch}", cwd=into)
            have = sorted(into.glob(f"{package}_*_{arch}.deb"))
        if not have:
            raise KernelSetupError(f"{package}:{arch}: apt-get download left no .deb in {into}")
        debs.append(have[-1])
    return debs


def unpack(deb: Path, into: Path) -> None:
    """`dpkg -x`, once: a stamp file says it was done."""
    stamp = into / f".{deb.name}.unpacked"
    if not stamp.exists():
        into.mkdir(parents=True, exist_ok=True)
        _run(["dpkg", "-x", str(deb), str(into)], f"dpkg -x {deb.name}")
        stamp.touch()


def prepare_kernel(spec: KernelSpec, work: Path) -> GuestKernel:
    """Fetch, unpack and pick the modules of one guest kernel."""
    package = resolve_package(spec.package, spec.arch)
    (deb,) = download([package], spec.arch, work / "debs")
    root = work / "unpacked" / package
    unpack(deb, root)
    release = package.removeprefix("linux-image-")
    vmlinuz = root / "boot" / f"vmlinuz-{release}"
    tree = root / "lib" / "modules" / release
    if not vmlinuz.is_file() or not tree.is_dir():
        raise KernelSetupError(f"{deb}: no boot/vmlinuz-{release} or lib/modules/{release}")
    return GuestKernel(spec, release, vmlinuz, module_closure(tree, GUEST_MODULES,
                                                             work / "modules" / release))


def prepare_arm64_root(work: Path, checkout: Path) -> Path:
    """An arm64 folder with busybox, Python 3.11 and libbpf, unpacked from Debian's
    arm64 packages, with empty mount points for the kernel's filesystems and the checkout."""
    root = work / "arm64-root"
    for deb in download(list(ARM64_USERLAND), "arm64", work / "debs"):
        unpack(deb, root)
    for folder in ("proc", "sys", "dev", "tmp", "run", "var/tmp", str(checkout).lstrip("/")):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "etc" / "hostname").write_text("ecli-arm64-guest\n")
    return root


def link_applets(root: Path) -> None:
    """`/bin/sh`, `cat`, `ping`... as links to the arm64 busybox, and `python3`.

    The applet names come from the host's busybox-static, the same Debian version
    (the arm64 one cannot run here); a name a package already provides is kept."""
    names = _run(["/bin/busybox", "--list"], "busybox --list").split()
    for name in names:
        link = root / "bin" / name
        if not link.exists() and not link.is_symlink():
            link.symlink_to("busybox")
    python = root / "usr" / "bin" / "python3"
    if not python.exists():
        python.symlink_to("python3.11")


def module_closure(tree: Path, wanted: tuple[str, ...], out: Path) -> tuple[Path, ...]:
    """The modules in `wanted` that exist as modules, with their dependencies first,
    uncompressed into `out` (busybox insmod reads plain .ko files only)."""
    files = {_module_name(path): path for path in tree.rglob("*.ko*")}
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or name not in files:
            return  # built into the kernel, or already listed
        for dependency in _depends(_module_bytes(files[name])):
            visit(dependency)
        order.append(name)

    for name in wanted:
        visit(name)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in order:
        target = out / f"{name}.ko"
        if not target.exists():
            target.write_bytes(_module_bytes(files[name]))
        paths.append(target)
    return tuple(paths)


def _module_name(path: Path) -> str:
    return path.name.split(".ko", 1)[0].replace("-", "_")


def _module_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    return lzma.decompress(raw) if path.name.endswith(".xz") else raw


def _depends(module: bytes) -> list[str]:
    found = re.search(rb"\x00depends=([^\x00]*)\x00", module)
    text = found.group(1).decode() if found else ""
    return [name.replace("-", "_") for name in text.split(",") if name]


def _arch_hint(arch: str) -> str:
    return ("dpkg --add-architecture arm64 && apt-get update" if arch == "arm64"
            else "apt-get update")


def _run(command: list[str], what: str, cwd: Path | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise KernelSetupError(f"{what} failed: {tail}")
    return done.stdout
