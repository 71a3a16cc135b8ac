"""Kind `bundle`: extract the package's tar.gz safely once, then run its entrypoint.

A bundle is extracted per layer digest under the cache (`bundles/sha256-HEX`),
through `ecli.oci.tarsafe`, into a temporary folder renamed into place: a folder
that exists is complete and was checked. Running replaces ecli with the
entrypoint (exec), so the program's exit status and signals are the user's
to see. docs/formats.md (kind `bundle`) is the contract with package authors.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ecli.errors import ArtifactError, UsageError
from ecli.oci import mediatypes, tarsafe
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.packages.locate import LocatedPackage


def bundle_layer(package: LocatedPackage) -> tuple[str, Path]:
    """(digest, blob path) of the package's one bundle layer."""
    artifact = package.artifact
    if artifact is None or package.config is None:
        raise UsageError(f"{package.name}: not a stored bundle package")
    layers = [layer for layer in artifact.manifest.layers
              if layer.media_type == mediatypes.BUNDLE_TAR_GZIP]
    if len(layers) != 1:
        raise ArtifactError(f"{package.name}: a bundle must have exactly one "
                            f"{mediatypes.BUNDLE_TAR_GZIP} layer, found {len(layers)}")
    layer = layers[0]
    path = artifact.files.get(layer.title or "")
    if path is None:
        raise ArtifactError(f"{package.name}: the bundle layer has no title")
    return layer.digest, path


def extracted(package: LocatedPackage, paths: Paths) -> Path:
    """The bundle's root folder, extracted now if it was not before."""
    digest, blob = bundle_layer(package)
    destination = paths.bundles_dir / digest.replace(":", "-")
    if destination.is_dir():
        return destination
    try:
        tarsafe.extract(blob, destination, where=f"{package.name} ({digest[:19]})")
    except OSError as exc:
        if destination.is_dir():  # another ecli extracted it at the same time
            return destination
        raise ArtifactError(f"{package.name}: cannot extract the bundle: {exc}") from None
    return destination


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
