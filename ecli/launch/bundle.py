"""Kind `bundle`: run the entrypoint of the extracted bundle (`ecli.packages.bundles`).

Running replaces ecli with the entrypoint (exec), so the program's exit
status and signals are the user's to see; the entrypoint must resolve inside
the bundle. docs/formats.md (kind `bundle`) is the contract with package authors.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ecli.errors import ArtifactError
from ecli.packages.bundles import extracted
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage


def entrypoint(package: LocatedPackage, root: Path) -> list[str]:
    """The command line to run: the entrypoint resolved inside `root`, fixed args."""
    assert package.config is not None
    command = list(package.config.entrypoint)
    if not command:
        raise ArtifactError(f"{package.name}: the bundle has no entrypoint")
    relative = command[0]
    normal = posixpath.normpath(relative)
    if relative.startswith("/") or normal == ".." or normal.startswith("../"):
        raise ArtifactError(f"{package.name}: entrypoint {relative!r} must be a path inside "
                            "the bundle")
    path = root / normal
    real_root = os.path.realpath(root)
    if not os.path.realpath(path).startswith(real_root + os.sep):
        raise ArtifactError(f"{package.name}: entrypoint {relative!r} resolves outside the bundle")
    if not path.is_file():
        raise ArtifactError(f"{package.name}: entrypoint {relative!r} is not a file of the bundle")
    if not os.access(path, os.X_OK):
        raise ArtifactError(f"{package.name}: entrypoint {relative!r} is not executable")
    return [str(path), *command[1:]]


def run(package: LocatedPackage, program_args: list[str], paths: Paths) -> NoReturn:
    """Exec the entrypoint with the user's arguments appended."""
    root = extracted(package, paths)
    argv = [*entrypoint(package, root), *program_args]
    env = dict(os.environ)
    env["ECLI_BUNDLE_DIR"] = str(root)
    env["ECLI_PACKAGE_NAME"] = package.name
    env["ECLI_PACKAGE_VERSION"] = package.version or ""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(argv[0], argv, env)
    except OSError as exc:
        raise ArtifactError(f"{package.name}: cannot run {argv[0]}: {exc.strerror}") from None
