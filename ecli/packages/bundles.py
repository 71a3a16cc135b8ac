"""A bundle package's files on disk: its one tar.gz layer, extracted once per digest.

Bundles are extracted per layer digest under the cache (`bundles/sha256-HEX`),
through `ecli.oci.tarsafe`, into a temporary folder renamed into place: a
folder that exists is complete and was checked; the half-extracted folders of
a killed ecli are removed by the next use of any bundle. `ecli install`
extracts at install time, `ecli inspect` to read the objects inside, `ecli run`
to run it (`ecli.launch.bundle`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ecli.errors import ArtifactError, UsageError
from ecli.files import remove_orphans
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
    remove_orphans(paths.bundles_dir)  # extractions a killed ecli left half-done
    if destination.is_dir():
        return destination
    try:
        tarsafe.extract(blob, destination, where=f"{package.name} ({digest[:19]})")
    except OSError as exc:
        if destination.is_dir():  # another ecli extracted it at the same time
            return destination
        raise ArtifactError(f"{package.name}: cannot extract the bundle: {exc}") from None
    return destination
