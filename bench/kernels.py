"""Guest boots of the kernel matrix: boot to first command, ecli's start, the whole matrix.

    python bench/kernels.py [--kernel NAME ...] [--work DIR] [--matrix [--jobs N]]

For each guest kernel of generator/kernels.toml (fetched as `make kernels` does):
one boot whose job is `true` (boot to first command is the guest's own uptime when
its init reaches the job; "boot+off" is the wall time from starting qemu to its
power-off), then one boot that runs `python -m ecli --version` inside (what a
package test pays before it loads anything). The reference in the same run is the
same command on the host, directly. qemu runs TCG (`-accel tcg -cpu max`), one
guest at a time.

With --matrix, then the whole matrix of index/ as `make kernels` runs it (after one
`make kernels` has built, pushed and resolved the catalog into WORK/lock.json), its
results written to a temporary file, not index/kernels.json: per kernel the tests
that ran, passed and were skipped, the boots' seconds added up, and the wall time.
`--jobs 1` is the reference: one guest at a time. Nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # users have compiled bytecode

from generator import commands, guest, guestkernels, kernelmatrix  # noqa: E402


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
    parser.add_argument("--matrix", action="store_true",
                        help="then time the whole matrix of index/ (make kernels first)")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="with --matrix: guests at once (default: the runner's choice)")
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
    table(("kernel", "arch", "boot to first command s", "boot+off s", "ecli --version s"),
          rows)
    if args.matrix:
        print()
        table(("kernel", "arch", "tests run", "pass", "unsupported", "boots s",
               "boot to first command s"), matrix_rows(args.kernel, work, args.jobs))


def matrix_rows(only: list[str] | None, work: Path, jobs: int | None) -> list[tuple[str, ...]]:
    """The whole matrix as `make kernels` runs it, into a temporary results file."""
    with tempfile.TemporaryDirectory(prefix="bench-kernels-") as scratch:
        started = time.monotonic()
        ran = commands.kernels(ROOT / "index", work, lock_file=work / "lock.json",
                               results_file=Path(scratch, "kernels.json"), only=only,
                               jobs=jobs)
        wall = time.monotonic() - started
    rows = []
    for run in ran.runs:
        results = [outcome.result for _, outcome in run.results]
        skipped = results.count("unsupported")
        rows.append((run.kernel, run.arch, str(len(results) - skipped),
                     str(results.count("pass")), str(skipped), f"{run.seconds:.0f}",
                     f"{run.boot_seconds:.1f}" if run.boot_seconds else "-"))
    jobs_used = jobs or kernelmatrix.parallelism()
    rows.append((f"whole matrix, {jobs_used} guest(s) at a time", "-", "-", "-", "-", "-",
                 f"wall {wall:.0f} s (pulls included)"))
    return rows


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
