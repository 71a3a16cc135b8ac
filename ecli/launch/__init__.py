"""Launching a located package: the kinds other than `bpf`, and detached runs.

`bundle` and `image` both replace the ecli process with the program they
run, so its exit status and signals reach the user unchanged (DESIGN.md §5);
kind `bpf` stays with the built-in runtime (`ecli.runtime`). `detached`
starts any `ecli run` in the background and keeps its record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage


def run(package: LocatedPackage, program_args: list[str], paths: Paths,
        pull: str = "missing") -> int:
    """Run a bundle or image package with the user's arguments (does not return on success).

    `pull` is `ecli run --pull`: for an image the engine holds the image, so the
    policy is passed on to it (`never` when the operator's policy forbids pulling); a
    bundle was already located under it.
    """
    if package.kind == "bundle":
        from ecli.launch import bundle

        bundle.run(package, program_args, paths)
    from ecli.launch import image
    from ecli.packages import policy

    image.run(package, program_args, "never" if policy.no_pull(paths) else pull)
