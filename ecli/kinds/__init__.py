"""How `ecli run` runs the package kinds other than `bpf` (DESIGN.md §5).

`bundle` (ecli.kinds.bundle) and `image` (ecli.kinds.image) both replace the
ecli process with the program they run, so its exit status and signals
reach the user unchanged; `bpf` stays with the built-in runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.locate import LocatedPackage

OTHER_KINDS = ("bundle", "image")


def run(package: LocatedPackage, program_args: list[str], paths: Paths,
        pull: str = "missing") -> int:
    """Run a bundle or image package with the user's arguments (does not return on success).

    `pull` is `ecli run --pull`: for an image the engine holds the image, so the
    policy is passed on to it; a bundle was already located under it.
    """
    if package.kind == "bundle":
        from ecli.kinds import bundle

        bundle.run(package, program_args, paths)
    from ecli.kinds import image

    image.run(package, program_args, pull)
