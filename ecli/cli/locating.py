"""Locating a package for a command, with the locator's warnings shown.

Every command that turns a TARGET into a package goes through `locate_target`,
so a yanked version or a skipped source is reported the same way whatever the
command (run, pull, inspect, save, doctor...), before the command goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecli.cli.context import Context
from ecli.cli.progress import status, warn

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage


def locate_target(target: str, ctx: Context, *, pull: str = "missing") -> LocatedPackage:
    """`locate` with status lines (unless -q) and its warnings on stderr (always)."""
    from ecli.packages.locate import locate

    located = locate(target, ctx.paths, None if ctx.quiet else status, pull=pull)
    for warning in located.warnings:  # now: `run` goes on to print events for a long time
        warn(warning)
    return located
