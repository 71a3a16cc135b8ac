"""`python -m generator kernels`: every package version's test on every kernel of the matrix.

Each version is pulled by its pinned digest (the lock's) with ecli's registry
client, every platform apart; the object of the platform matching a kernel's
architecture is what runs there. The host kernel runs the tests directly;
each guest kernel (generator/guestkernels.py fetches it, generator/guest.py
boots it) runs them in one boot, one guest at a time. What comes back is a
`KernelResult` per version and kernel, merged into index/kernels.json.
"""

from __future__ import annotations

import compileall
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from generator import guest, guestkernels, kernelresults, pkgtest
from generator.entry import Index
from generator.guestkernels import ARCHES, KernelSpec
from generator.kernelresults import KernelResult, Results
from generator.lock import Lock

GUEST_SECONDS = 900.0  # one boot runs every test; TCG is slow


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
    from ecli.oci import registry
    from ecli.oci.manifest import Platform
    from ecli.oci.store import Store
    from ecli.paths import Paths

    store = Store(Paths.from_environment({"ECLI_HOME": str(home)}).oci_store_dir)
    store.ensure()
    found = []
    for name, entry in sorted(index.entries.items()):
        for version in entry.versions:
            pin = locked.get(name, {}).get(version.version)
            target = Target(name, version.version, pin.digest if pin else "", entry.test, "")
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
                offered = {m.platform.architecture for m in registry.platform_manifests(reference)
                           if m.platform is not None}
                arches = frozenset(offered & set(ARCHES) if offered else ARCHES)
                for arch in arches:  # the image index too: the run selects from it
                    registry.pull(reference, store, platform=Platform("linux", arch))
            except EcliError as exc:
                found.append(replace(target, refusal=f"not pulled: {exc.message}"))
                continue
            found.append(replace(target, arches=arches, reference=str(reference)))
    return found


def run_matrix(specs: list[KernelSpec], found: list[Target], work: Path, checkout: Path,
               log: Any = None) -> list[KernelRun]:
    """Each kernel in turn (one qemu at a time: the machine is shared)."""
    runs = []
    for spec in specs:
        started = time.monotonic()
        if spec.arch == "host":
            arch = _host_arch()
            outcomes = {(t.package, t.version): _run_here(t, arch, work / "home") for t in found}
            run = KernelRun(spec, os.uname().release, ARCHES[arch],
                            _ordered(found, outcomes), time.monotonic() - started)
        else:
            run = _run_guest(spec, found, work, checkout)
        if log:
            passed = sum(outcome.result == "pass" for _, outcome in run.results)
            log(f"{run.kernel} ({run.arch}): {passed}/{len(run.results)} pass, "
                f"{run.seconds:.0f} s" + (f", boot to first command {run.boot_seconds:.1f} s"
                                           if run.boot_seconds else ""))
        runs.append(run)
    return runs


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
    refused = _refusal(target, arch)
    if refused:
        return refused
    assert target.test is not None
    with tempfile.TemporaryDirectory(prefix="ecli-matrix-") as scratch:
        shutil.copytree(home, Path(scratch, "home"), symlinks=True)
        env = {**os.environ, "ECLI_HOME": str(Path(scratch, "home"))}
        return pkgtest.run_test(target.reference, pkgtest.PackageTest.from_plain(target.test),
                                env=env)


def _refusal(target: Target, arch: str) -> pkgtest.Outcome | None:
    if target.refusal:
        return pkgtest.Outcome("unsupported", target.refusal)
    if target.test is None:
        return pkgtest.Outcome("unsupported", "the index entry declares no test")
    if arch not in target.arches:
        return pkgtest.Outcome("unsupported", f"no linux/{arch} platform")
    return None


def _run_guest(spec: KernelSpec, found: list[Target], work: Path, checkout: Path) -> KernelRun:
    kernel = guestkernels.prepare_kernel(spec, work)
    arm64_root = prepare_arm64(work, checkout) if spec.arch == "arm64" else None
    byte_compile(checkout, arm64_root)
    initramfs = guest.build_initramfs(kernel, guest.busybox_for(spec.arch, arm64_root),
                                      work / "initrd" / f"{kernel.release}.gz")
    outcomes = {(t.package, t.version): refused for t in found
                if (refused := _refusal(t, spec.arch))}
    runnable = [t for t in found if (t.package, t.version) not in outcomes]
    plan = work / "plans" / f"{spec.name}.json"
    plan.parent.mkdir(parents=True, exist_ok=True)
    plan.write_text(json.dumps({"tests": [
        {"package": t.package, "version": t.version, "digest": t.digest,
         "target": t.reference, "test": t.test}
        for t in runnable]}, indent=1))
    job = _job(work / "plans" / f"{spec.name}.sh", plan.resolve(), checkout, spec.arch)
    booted = guest.boot(kernel, initramfs, job, arm64_root=arm64_root, checkout=checkout,
                        timeout=GUEST_SECONDS)
    reported = _reported(booted.console)
    for target in runnable:
        outcomes[(target.package, target.version)] = reported.get(
            (target.package, target.version)) or pkgtest.Outcome(
            "fail", "the guest gave no result: " + _console_tail(booted))
    return KernelRun(spec, kernel.release, ARCHES[spec.arch], _ordered(found, outcomes),
                     booted.seconds, booted.boot_seconds)


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


def _job(path: Path, plan: Path, checkout: Path, arch: str) -> Path:
    """The shell script the guest runs inside its root, from the checkout."""
    if arch == "arm64":  # Debian's arm64 Python, this checkout's code, no venv
        python = "/usr/bin/python3.11"
        extra = (f"export PYTHONPATH={checkout}\n"
                 "export LD_LIBRARY_PATH=/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu\n")
    else:  # the host's root: the venv's Python
        python, extra = sys.executable, ""
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
