"""Launching a located package: the kinds other than `bpf`, and detached runs.

`bundle` runs its entrypoint as a supervised child (run options obeyed,
signals forwarded, exit status passed through); `image` replaces the ecli
process with the container engine, so its exit status and signals reach the
user unchanged (DESIGN.md §5); kind `bpf` stays with the built-in runtime
(`ecli.runtime`). `detached` starts any `ecli run` in the background and keeps its record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage


def run(package: LocatedPackage, program_args: list[str], paths: Paths,
        pull: str = "missing") -> int:
    """Run an image package with the user's arguments (does not return on success).

    `pull` is `ecli run --pull`: for an image the engine holds the image, so the
    policy is passed on to it (`never` when the operator's policy forbids pulling); a
    bundle runs through `ecli.launch.bundle.run` instead.
    """
    from ecli.launch import image
    from ecli.packages import policy

    image.run(package, program_args, "never" if policy.no_pull(paths) else pull)
