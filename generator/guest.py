"""Boot one guest kernel under qemu TCG and run a job in it, over the host's own root.

The guest has no disk: a busybox initramfs loads the virtio and virtiofs
modules, mounts the host's `/` read-only over virtiofs (qemu's virtiofsd;
Debian's cloud kernels have no 9p) and chroots into it, or, on arm64, into
an arm64 folder of Debian packages with this checkout bind-mounted inside
(the host's Python is amd64). The job is a shell script in the checkout; what
it prints reaches the host on the serial console, which `boot` returns.
Each boot also gets a scratch disk of its own, mounted on /var/tmp: a sparse
ext4 image made on the host (e2fsprogs) and deleted after the boot, so that
block I/O and file creation (biolatency, filelife) happen on a real virtio
disk, not on the read-only root.
Nested KVM hangs on this machine kind, so qemu always runs `-accel tcg -cpu max`.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from generator.guestkernels import GuestKernel, KernelSetupError

UP_MARK = "@@ecli-guest-up"
EXIT_MARK = "@@ecli-guest-exit"
QEMU = {"amd64": ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max"],
        "arm64": ["qemu-system-aarch64", "-M", "virt", "-accel", "tcg", "-cpu", "max"]}
CONSOLE = {"amd64": "ttyS0", "arm64": "ttyAMA0"}
VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
MEMORY_MIB = 1024
SCRATCH_MIB = 64  # sparse: only what the guest writes takes room on the host

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /lib/modules/$m 2>/dev/null; done
ip link set lo up
mkdir -p /host && mount -t virtiofs -o ro host /host || echo "@@ecli-guest-error virtiofs"
mkdir -p /checkout && mount --bind /host$ecli_checkout /checkout
root=/host$ecli_root
mount -t proc proc $root/proc; mount -t sysfs sys $root/sys; mount -t devtmpfs dev $root/dev
mkdir -p $root/dev/pts && mount -t devpts devpts $root/dev/pts
mount -t tmpfs tmp $root/tmp; mount -t tmpfs run $root/run
mount -t bpf bpf $root/sys/fs/bpf; mount -t tracefs tracefs $root/sys/kernel/tracing
mount -t debugfs debugfs $root/sys/kernel/debug
for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 /dev/vda $root/var/tmp || echo "@@ecli-guest-error scratch disk"
mkdir -p $root$ecli_checkout 2>/dev/null; mount --bind /checkout $root$ecli_checkout
echo "@@ecli-guest-up $(cut -d' ' -f1 /proc/uptime)"
chroot $root /bin/busybox sh $ecli_job
echo "@@ecli-guest-exit $?"
poweroff -f
"""


@dataclass(frozen=True)
class GuestRun:
    """What one boot printed, and how long it took."""

    console: str
    seconds: float
    boot_seconds: float | None  # to the first command (the guest's own uptime)
    exit_status: int | None  # the job's, None when it never finished


def build_initramfs(kernel: GuestKernel, busybox: Path, out: Path) -> Path:
    """A gzip'd newc cpio: /init, a static busybox and the kernel's modules."""
    files: dict[str, tuple[int, bytes]] = {
        "init": (0o100755, INIT.encode()),
        "bin/busybox": (0o100755, busybox.read_bytes()),
        "modules.order": (0o100644, "".join(f"{m.name}\n" for m in kernel.modules).encode()),
    }
    for module in kernel.modules:
        files[f"lib/modules/{module.name}"] = (0o100644, module.read_bytes())
    folders = ["bin", "dev", "proc", "sys", "lib", "lib/modules"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(_cpio(folders, files), compresslevel=1))
    return out


def _cpio(folders: list[str], files: dict[str, tuple[int, bytes]]) -> bytes:
    buffer = io.BytesIO()
    entries = [(name, 0o040755, b"") for name in folders]
    entries += [(name, mode, data) for name, (mode, data) in files.items()]
    entries.append(("TRAILER!!!", 0, b""))
    for inode, (name, mode, data) in enumerate(entries, 1):
        encoded = name.encode() + b"\0"
        fields = (inode, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
        buffer.write(header + encoded)
        buffer.write(b"\0" * (-(len(header) + len(encoded)) % 4))
        buffer.write(data + b"\0" * (-len(data) % 4))
    return buffer.getvalue()


def boot(kernel: GuestKernel, initramfs: Path, job: Path, *, arm64_root: Path | None,
         checkout: Path, timeout: float) -> GuestRun:
    """Boot, run `job` (a path on the host), power off; never leaves qemu or virtiofsd behind."""
    arch = kernel.spec.arch
    env = {"ecli_job": str(job), "ecli_checkout": str(checkout),
           "ecli_root": str(arm64_root) if arch == "arm64" and arm64_root else ""}
    append = " ".join([f"console={CONSOLE[arch]}", "quiet", "panic=-1", "rdinit=/init",
                       *(f"{key}={value}" for key, value in env.items() if value)])
    with tempfile.TemporaryDirectory(prefix="ecli-guest-") as scratch:
        socket = Path(scratch, "fs.sock")
        disk = scratch_disk(Path(scratch, "scratch.img"))
        # sandbox=chroot: the default namespace sandbox cannot pivot_root in a container
        daemon = _start([VIRTIOFSD, f"--socket-path={socket}", "-o", "source=/",
                         "-o", "cache=none", "-o", "sandbox=chroot"])
        try:
            _wait_for(socket, daemon)
            command = [*QEMU[arch], "-m", str(MEMORY_MIB), "-smp", "1", "-nographic",
                       "-no-reboot", "-nic", "none", "-kernel", str(kernel.vmlinuz),
                       "-initrd", str(initramfs), "-append", append,
                       "-chardev", f"socket,id=fs,path={socket}",
                       "-device", "vhost-user-fs-pci,chardev=fs,tag=host",
                       "-drive", f"file={disk},format=raw,if=none,id=scratch",
                       "-device", "virtio-blk-pci,drive=scratch",
                       "-object", f"memory-backend-memfd,id=mem,size={MEMORY_MIB}M,share=on",
                       "-numa", "node,memdev=mem"]
            started = time.monotonic()
            try:
                done = subprocess.run(command, capture_output=True, timeout=timeout,
                                      stdin=subprocess.DEVNULL, check=False)
                console = done.stdout.decode("utf-8", "replace")
            except subprocess.TimeoutExpired as exc:  # run() has killed qemu
                console = (exc.stdout or b"").decode("utf-8", "replace")
            except FileNotFoundError:
                raise _missing(command[0]) from None
            seconds = time.monotonic() - started
        finally:
            daemon.kill()
            daemon.wait()
    return GuestRun(console, seconds, _marked_number(console, UP_MARK),
                    _exit_status(console))


def scratch_disk(path: Path) -> Path:
    """A sparse, empty ext4 image (the guest mounts it on /var/tmp)."""
    with path.open("wb") as image:
        image.truncate(SCRATCH_MIB * 1024 * 1024)
    try:
        done = subprocess.run(["mkfs.ext4", "-q", "-F", "-E", "nodiscard", str(path)],
                              capture_output=True, text=True, check=False, timeout=60)
    except FileNotFoundError:
        raise KernelSetupError("mkfs.ext4 is not installed", hint="make deps (e2fsprogs)"
                               ) from None
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise KernelSetupError(f"mkfs.ext4 {path} failed: {tail}")
    return path


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        raise _missing(command[0]) from None


def _missing(program: str) -> KernelSetupError:
    return KernelSetupError(f"{program} is not installed",
                            hint="make deps (qemu-system-x86, qemu-system-arm)")


def _wait_for(socket: Path, daemon: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if socket.exists():
            return
        if daemon.poll() is not None:
            break
        time.sleep(0.05)
    raise KernelSetupError(f"{VIRTIOFSD} made no socket at {socket} (exit {daemon.poll()})")


def _marked_number(console: str, mark: str) -> float | None:
    for line in console.splitlines():
        if mark in line:  # the firmware's escape sequences may precede it on its line
            try:
                return float(line.split(mark, 1)[1].split()[0])
            except (IndexError, ValueError):
                return None
    return None


def _exit_status(console: str) -> int | None:
    value = _marked_number(console, EXIT_MARK)
    return None if value is None else int(value)


def busybox_for(arch: str, arm64_root: Path | None) -> Path:
    """The static busybox of the guest's architecture: the host's, or the arm64 package's."""
    path = (arm64_root / "bin" / "busybox") if arch == "arm64" and arm64_root else Path(
        "/bin/busybox")
    if not path.is_file() or not os.access(path, os.R_OK):
        raise KernelSetupError(f"{path}: no static busybox for {arch}",
                               hint="make deps (busybox-static)")
    return path
