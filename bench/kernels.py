"""Guest boots of the kernel matrix: boot to first command, and ecli's start, per kernel.

    python bench/kernels.py [--kernel NAME ...] [--work DIR]

For each guest kernel of generator/kernels.toml (fetched as `make kernels` does):
one boot whose job is `true` (boot to first command is the guest's own uptime when
its init reaches the job; "boot+off" is the wall time from starting qemu to its
power-off), then one boot that runs `python -m ecli --version` inside (what a
package test pays before it loads anything). The reference in the same run is the
same command on the host, directly. qemu runs TCG (`-accel tcg -cpu max`), one
guest at a time. Nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # users have compiled bytecode

from generator import guest, guestkernels, kernelmatrix  # noqa: E402


def one_boot(kernel: guestkernels.GuestKernel, initramfs: Path, job: Path,
             arm64_root: Path | None) -> guest.GuestRun:
    return guest.boot(kernel, initramfs, job, arm64_root=arm64_root, checkout=ROOT,
                      timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernel", action="append", metavar="NAME",
                        help="only this guest kernel of generator/kernels.toml (repeatable)")
    parser.add_argument("--work", type=Path, default=ROOT / ".run" / "kernels",
                        help="where the kernels are kept (default: .run/kernels)")
    args = parser.parse_args()
    work = args.work.resolve()
    specs = [s for s in guestkernels.read_matrix() if s.arch != "host"
             and (not args.kernel or s.name in args.kernel)]
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "ecli", "--version"], check=True,
                   capture_output=True, cwd=ROOT)
    host = time.monotonic() - started
    rows = [("host " + os.uname().release, os.uname().machine, "-", "-", f"{host:.2f}")]
    for spec in specs:
        kernel = guestkernels.prepare_kernel(spec, work)
        arm64_root = (kernelmatrix.prepare_arm64(work, ROOT) if spec.arch == "arm64" else None)
        kernelmatrix.byte_compile(ROOT, arm64_root)
        initramfs = guest.build_initramfs(kernel, guest.busybox_for(spec.arch, arm64_root),
                                          work / "initrd" / f"{kernel.release}.gz")
        empty = work / "plans" / "bench-true.sh"
        empty.parent.mkdir(parents=True, exist_ok=True)
        empty.write_text("true\n")
        booted = one_boot(kernel, initramfs, empty.resolve(), arm64_root)
        python = "/usr/bin/python3.11" if spec.arch == "arm64" else sys.executable
        version = work / "plans" / f"bench-version-{spec.arch}.sh"
        version.write_text(f"cd {ROOT}\nexport PYTHONPATH={ROOT} LD_LIBRARY_PATH="
                           "/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu\n"
                           "s=$(cut -d' ' -f1 /proc/uptime)\n"
                           f"{python} -m ecli --version >/dev/null\n"
                           "echo \"@@bench $s $(cut -d' ' -f1 /proc/uptime)\"\n")
        ran = one_boot(kernel, initramfs, version.resolve(), arm64_root)
        marks = [line.split() for line in ran.console.splitlines() if line.startswith("@@bench")]
        cli = (f"{float(marks[0][2]) - float(marks[0][1]):.2f}" if marks else "no answer")
        first = f"{booted.boot_seconds:.1f}" if booted.boot_seconds is not None else "no answer"
        rows.append((kernel.release, guestkernels.ARCHES[spec.arch], first,
                     f"{booted.seconds:.1f}", cli))
    header = ("kernel", "arch", "boot to first command s", "boot+off s", "ecli --version s")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
