"""What the hub's kernel matrix says about this machine: `ecli info`, `run`, `search --kernel`.

Each version in api/v1 may carry `kernels`: its test's result on each kernel
and architecture the hub ran it on (docs/formats.md). A version never run
says nothing (no warning): the matrix is the hub's evidence, not a gate.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ecli.kernel.system import parse_release

if TYPE_CHECKING:  # `ecli pull REF@DIGEST` reads no index: the model stays unloaded
    from ecli.hubindex import model


def machine_warning(name: str, version: model.Version, release: str | None = None,
                    machine: str | None = None) -> str | None:
    """Why this machine is outside what the hub proved, or None when it is inside.

    Warned: the architecture was never tested; no kernel of it passed; or the running
    kernel is older than every kernel of it that passed.
    """
    if not version.kernels:
        return None
    release = release or os.uname().release
    machine = machine or os.uname().machine
    what = f"{name} {version.version}"
    mine = [k for k in version.kernels if k.arch == machine]
    if not mine:
        tested = ", ".join(sorted({k.arch for k in version.kernels}))
        return f"{what} was never tested on {machine} by the hub (tested on {tested})"
    passed = [k for k in mine if k.result == "pass"]
    if not passed:
        return f"{what} passed on no {machine} kernel the hub tested (see ecli info {name})"
    if not works_on(version, release, machine):
        oldest = min(passed, key=lambda k: parse_release(k.kernel))
        return (f"{what}: this kernel ({release}) is older than every kernel it passed on "
                f"(oldest: {oldest.kernel}); it may not load here")
    return None


def works_on(version: model.Version, release: str, machine: str) -> bool:
    """Did the version pass on a kernel of this architecture no newer than `release`?"""
    oldest = oldest_pass(version, machine)
    return oldest is not None and parse_release(release) >= oldest


def oldest_pass(version: model.Version, machine: str) -> tuple[int, ...] | None:
    """The oldest kernel of this architecture the version passed on, as parse_release's
    numbers (compared as Python compares tuples); None when none passed. The site's
    "works on my kernel" filter gets these numbers (generator/kernelfilter.py) and
    applies the same comparison."""
    passed = [parse_release(k.kernel) for k in version.kernels
              if k.result == "pass" and k.arch == machine]
    return min(passed) if passed else None


def newest_usable(document: model.PackageDocument) -> model.Version | None:
    """The version `search --kernel` judges a package by: the newest not yanked."""
    return next((v for v in document.versions if not v.yanked), None)
