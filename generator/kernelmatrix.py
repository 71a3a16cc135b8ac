"""`python -m generator kernels`: every package version's test on every kernel of the matrix.

Each version is pulled by its pinned digest (the lock's) with ecli's registry
client, every platform apart; the object of the platform matching a kernel's
architecture is what runs there. The host kernel runs the tests directly;
each guest kernel (generator/guestkernels.py fetches it, generator/guest.py
boots it) runs them in a few boots of at most CHUNK_TESTS tests each, and the
boots of all kernels run side by side, as many at once as the machine's cores
and free memory allow (`parallelism`), the slowest kernels' first. What comes
back is a `KernelResult` per version and kernel, merged into index/kernels.json.
"""

from __future__ import annotations

import compileall
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecli.kernel.system import release_at_least
from generator import guest, guestkernels, kernelresults, pkgtest
from generator.entry import Index
from generator.guestkernels import ARCHES, KernelSpec
from generator.kernelresults import KernelResult, Results
from generator.lock import Lock

# A boot's deadline: its start, then each test (TCG; arm64 emulates a whole other CPU).
BOOT_SECONDS = {"amd64": 60.0, "arm64": 120.0}
TEST_SECONDS = {"amd64": 60.0, "arm64": 120.0}
CHUNK_TESTS = 12  # tests per boot: a kernel's tests split over boots that run side by side
GUEST_FOOTPRINT_MIB = guest.MEMORY_MIB + 512  # qemu and virtiofsd beside the guest's memory


@dataclass(frozen=True)
class Target:
    """One version to test, with the object each architecture runs."""

    package: str
    version: str
    digest: str
    test: dict[str, Any] | None
    reference: str  # REGISTRY/REPOSITORY@DIGEST, in the store of the matrix's ecli home
    arches: frozenset[str] = frozenset()  # the platforms it was built for
    refusal: str = ""  # why it cannot run at all (kind, pull failure)
    min_kernel: str = ""  # the version's requirements.min_kernel: older kernels are skipped


@dataclass(frozen=True)
class KernelRun:
    """One kernel's part of a matrix run, with its figures."""

    spec: KernelSpec
    kernel: str
    arch: str
    results: list[tuple[Target, pkgtest.Outcome]]
    seconds: float
    boot_seconds: float | None = None


def targets(index: Index, locked: Lock, home: Path) -> list[Target]:
    """Pull every version, every platform, by the lock's digest when there is one, into
    the OCI store of the ecli home `home` (each run copies that home and runs the
    reference with `--pull never`, as a user's `ecli run` would, package config and all)."""
    from ecli.errors import EcliError
    from ecli.oci.store import Store
    from ecli.paths import Paths

    store = Store(Paths.from_environment({"ECLI_HOME": str(home)}).oci_store_dir)
    store.ensure()
    found = []
    for name, entry in sorted(index.entries.items()):
        for version in entry.versions:
            pin = locked.get(name, {}).get(version.version)
            target = Target(name, version.version, pin.digest if pin else "", entry.test, "",
                            min_kernel=str(version.requirements.get("min_kernel", "")))
            if pin is None:
                found.append(replace(target, refusal="not in the lock (run `python -m "
                                     "generator resolve` first)"))
                continue
            reference = version.reference.with_digest(pin.digest)
            if entry.kind != "bpf":
                found.append(replace(target, refusal=f"kind {entry.kind} is not run by the "
                                     "matrix yet (only kind bpf)"))
                continue
            try:
                arches = _pulled_arches(reference, store)
            except EcliError as exc:
                found.append(replace(target, refusal=f"not pulled: {exc.message}"))
                continue
            found.append(replace(target, arches=arches, reference=str(reference)))
    return found


def _pulled_arches(reference: Any, store: Any) -> frozenset[str]:
    """Pull each platform the artifact serves into `store` (the image index too: a run
    selects from it); the matrix's architectures among them. A plain manifest says its
    platform in its package config: an amd64-only package is not run on arm64. When
    nothing says (a bumblebee artifact), every architecture is tried."""
    from ecli.oci import registry
    from ecli.oci.manifest import Platform

    offered: set[str] = set()
    for item in registry.platform_manifests(reference):
        if item.platform is not None and item.platform.architecture not in ARCHES:
            continue
        selected = Platform("linux", item.platform.architecture) if item.platform else None
        pulled = registry.pull(reference, store, platform=selected)
        offered |= {p.architecture for p in registry.served_platforms(item, pulled.package)}
    return frozenset(offered & set(ARCHES) if offered else ARCHES)


def run_matrix(specs: list[KernelSpec], found: list[Target], work: Path, checkout: Path,
               log: Any = None, jobs: int | None = None) -> list[KernelRun]:
    """The host's kernel first, then every guest boot, `jobs` at a time (default:
    `parallelism()`); the runs in the order of `specs`."""
    runs: dict[str, KernelRun] = {}
    for spec in (s for s in specs if s.arch == "host"):
        started = time.monotonic()
        arch = _host_arch()
        outcomes = {(t.package, t.version): _run_here(t, arch, work / "home") for t in found}
        runs[spec.name] = _logged(log, KernelRun(spec, os.uname().release, ARCHES[arch],
                                                 _ordered(found, outcomes),
                                                 time.monotonic() - started))
    guests = [_prepare_guest(spec, found, work, checkout) for spec in specs
              if spec.arch != "host"]
    boots = sorted(((g, chunk) for g in guests for chunk in g.chunks),
                   key=lambda item: -TEST_SECONDS[item[0].kernel.spec.arch] * len(item[1]))
    with ThreadPoolExecutor(max_workers=jobs or parallelism()) as pool:
        booted = list(pool.map(lambda item: (item[0], _boot_chunk(*item, checkout)), boots))
    for prepared in guests:
        mine = [run for g, run in booted if g is prepared]
        runs[prepared.kernel.spec.name] = _logged(log, _collected(prepared, mine, found))
    return [runs[spec.name] for spec in specs]


def parallelism() -> int:
    """How many guests at once: one per core, as many as the free memory holds."""
    cores = len(os.sched_getaffinity(0))
    return max(1, min(cores, _available_mib() // GUEST_FOOTPRINT_MIB))


def _available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return GUEST_FOOTPRINT_MIB


def _logged(log: Any, run: KernelRun) -> KernelRun:
    if log:
        passed = sum(outcome.result == "pass" for _, outcome in run.results)
        log(f"{run.kernel} ({run.arch}): {passed}/{len(run.results)} pass, "
            f"{run.seconds:.0f} s" + (f", boot to first command {run.boot_seconds:.1f} s"
                                       if run.boot_seconds else ""))
    return run


def as_results(runs: list[KernelRun], today: str | None = None) -> Results:
    """The runs as index/kernels.json records."""
    tested = today or datetime.now(UTC).strftime("%Y-%m-%d")
    results: Results = {}
    for run in runs:
        for target, outcome in run.results:
            results.setdefault(target.package, {}).setdefault(target.version, []).append(
                KernelResult(run.kernel, run.arch, outcome.result, outcome.reason, tested,
                             target.digest))
    return results


def _run_here(target: Target, arch: str, home: Path) -> pkgtest.Outcome:
    refused = _refusal(target, arch, os.uname().release)
    if refused:
        return refused
    assert target.test is not None
    with tempfile.TemporaryDirectory(prefix="ecli-matrix-") as scratch:
        shutil.copytree(home, Path(scratch, "home"), symlinks=True)
        env = {**os.environ, "ECLI_HOME": str(Path(scratch, "home"))}
        return pkgtest.run_test(target.reference, pkgtest.PackageTest.from_plain(target.test),
                                env=env)


def _refusal(target: Target, arch: str, release: str) -> pkgtest.Outcome | None:
    if target.refusal:
        return pkgtest.Outcome("unsupported", target.refusal)
    if target.test is None:
        return pkgtest.Outcome("unsupported", "the index entry declares no test")
    if arch not in target.arches:
        return pkgtest.Outcome("unsupported", f"no linux/{arch} artifact")
    if target.min_kernel and not release_at_least(target.min_kernel, release):
        return pkgtest.Outcome("unsupported", f"needs Linux {target.min_kernel} or later "
                               "(requirements.min_kernel)")
    return None


@dataclass(frozen=True)
class _PreparedGuest:
    """A guest kernel ready to boot, its refusals known, its tests split into boots."""

    kernel: guestkernels.GuestKernel
    initramfs: Path
    arm64_root: Path | None
    refused: dict[tuple[str, str], pkgtest.Outcome]
    chunks: list[list[Target]]
    work: Path


def _prepare_guest(spec: KernelSpec, found: list[Target], work: Path, checkout: Path
                   ) -> _PreparedGuest:
    kernel = guestkernels.prepare_kernel(spec, work)
    arm64_root = prepare_arm64(work, checkout) if spec.arch == "arm64" else None
    byte_compile(checkout, arm64_root)
    initramfs = guest.build_initramfs(kernel, guest.busybox_for(spec.arch, arm64_root),
                                      work / "initrd" / f"{kernel.release}.gz")
    refused = {(t.package, t.version): outcome for t in found
               if (outcome := _refusal(t, spec.arch, kernel.release))}
    runnable = [t for t in found if (t.package, t.version) not in refused]
    count = math.ceil(len(runnable) / CHUNK_TESTS)
    chunks = [runnable[i::count] for i in range(count)]
    return _PreparedGuest(kernel, initramfs, arm64_root, refused, chunks, work)


def _boot_chunk(prepared: _PreparedGuest, chunk: list[Target], checkout: Path
                ) -> tuple[list[Target], guest.GuestRun]:
    """One boot running `chunk`'s tests."""
    spec, work = prepared.kernel.spec, prepared.work
    plan = work / "plans" / f"{spec.name}-{chunk[0].package}.json"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps({"tests": [
        {"package": t.package, "version": t.version, "digest": t.digest,
         "target": t.reference, "test": t.test}
        for t in chunk]}, indent=1))
    job = _job(plan.with_suffix(".sh"), plan.resolve(), checkout, spec.arch)
    return chunk, guest.boot(prepared.kernel, prepared.initramfs, job,
                             arm64_root=prepared.arm64_root, checkout=checkout,
                             timeout=BOOT_SECONDS[spec.arch] + TEST_SECONDS[spec.arch] * len(chunk))


def _collected(prepared: _PreparedGuest, boots: list[tuple[list[Target], guest.GuestRun]],
               found: list[Target]) -> KernelRun:
    """One kernel's outcomes from its boots; its seconds are the boots' added up."""
    outcomes = dict(prepared.refused)
    for chunk, booted in boots:
        reported = _reported(booted.console)
        for target in chunk:
            outcomes[(target.package, target.version)] = reported.get(
                (target.package, target.version)) or pkgtest.Outcome(
                "fail", "the guest gave no result: " + _console_tail(booted))
    first = [b.boot_seconds for _, b in boots if b.boot_seconds is not None]
    spec = prepared.kernel.spec
    return KernelRun(spec, prepared.kernel.release, ARCHES[spec.arch],
                     _ordered(found, outcomes), sum(b.seconds for _, b in boots),
                     min(first) if first else None)


def prepare_arm64(work: Path, checkout: Path) -> Path:
    root = guestkernels.prepare_arm64_root(work, checkout).resolve()
    guestkernels.link_applets(root)
    return root


def byte_compile(checkout: Path, arm64_root: Path | None) -> None:
    """Compile ecli, the generator and the arm64 standard library here: the guest's root
    is read-only and compiling under TCG costs seconds per run. Python 3.11's bytecode is
    the same on both architectures (the host Python must be 3.11 for the arm64 part)."""
    folders = [checkout / "ecli", checkout / "generator"]
    if arm64_root is not None and sys.version_info[:2] == (3, 11):
        folders.append(arm64_root / "usr" / "lib" / "python3.11")
    for folder in folders:
        compileall.compile_dir(folder, quiet=2, workers=1)


def guest_python(arch: str, checkout: Path) -> tuple[str, str]:
    """The Python a guest's job runs ecli with, and the shell lines it needs first."""
    if arch == "arm64":  # Debian's arm64 Python, this checkout's code, no venv
        return "/usr/bin/python3.11", (
            f"export PYTHONPATH={checkout}\n"
            "export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu\n")
    return sys.executable, ""  # the host's root: the venv's Python


def _job(path: Path, plan: Path, checkout: Path, arch: str) -> Path:
    """The shell script the guest runs inside its root, from the checkout."""
    python, extra = guest_python(arch, checkout)
    home = plan.parent.parent / "home"  # the matrix's ecli home, copied: the root is read-only
    path.write_text(f"cd {checkout}\ncp -a {home} /tmp/ecli-home\n"
                    "export HOME=/tmp ECLI_HOME=/tmp/ecli-home "
                    "PYTHONDONTWRITEBYTECODE=1 "
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                    f"{extra}exec {python} -m generator.pkgtest {plan}\n")
    return path.resolve()


def _reported(console: str) -> dict[tuple[str, str], pkgtest.Outcome]:
    found = {}
    for line in console.splitlines():
        if pkgtest.RESULT_MARK + " " in line:
            try:
                record = json.loads(line.split(pkgtest.RESULT_MARK + " ", 1)[1])
                found[(record["package"], record["version"])] = pkgtest.Outcome(
                    record["result"], record["reason"])
            except (ValueError, KeyError, TypeError):
                continue
    return found


def _console_tail(booted: guest.GuestRun) -> str:
    lines = [line for line in booted.console.splitlines() if line.strip()]
    state = "timed out" if booted.exit_status is None else f"job exit {booted.exit_status}"
    return f"{state} after {booted.seconds:.0f} s; console: " + " | ".join(lines[-8:])[-1500:]


def _ordered(found: list[Target], outcomes: dict[tuple[str, str], pkgtest.Outcome]
             ) -> list[tuple[Target, pkgtest.Outcome]]:
    return [(t, outcomes[(t.package, t.version)]) for t in found]


def _host_arch() -> str:
    machine = platform.machine()
    return next((arch for arch, uname in ARCHES.items() if uname == machine), machine)


def update_file(path: Path, runs: list[KernelRun]) -> Results:
    """Merge the runs into index/kernels.json; what it holds now."""
    merged = kernelresults.merge(kernelresults.read(path), as_results(runs))
    kernelresults.write(path, merged)
    return merged
