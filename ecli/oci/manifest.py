"""OCI manifests, image indexes and descriptors: parsing and writing.

The one reader of manifest JSON, shared by the registry client, the local
store and the artifact layer. Parsing checks what later code relies on
(digests well formed, sizes non-negative integers, media types strings), so
a malformed manifest fails here with the reference named, never later with a
KeyError. Pure data: no network, no disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ecli.documents import load_object
from ecli.errors import ArtifactError, EcliError
from ecli.oci import mediatypes

MAX_MANIFEST_BYTES = 4 << 20

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_VERSION = "org.opencontainers.image.version"
ANNOTATION_DESCRIPTION = "org.opencontainers.image.description"
ANNOTATION_LICENSES = "org.opencontainers.image.licenses"

# Records are named tuples (cheaper to create than dataclasses, and `ecli run` creates
# these classes at import); the empty annotations are one shared, read-only mapping.
_NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# one part of "os/arch[/variant]": what OCI platforms spell (linux, amd64, ppc64le, v8)
_PLATFORM_PART = re.compile(r"[a-z0-9][a-z0-9_.-]*")

# os.uname().machine -> OCI architecture
_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    return bool(_DIGEST.match(text))


class Platform(NamedTuple):
    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    @classmethod
    def parse(cls, text: str, where: str, error: type[EcliError] = ArtifactError) -> Platform:
        """Read "os/arch[/variant]" (`ecli build --platform`, build.platforms, a package
        config's platforms), the one reader of that text; `error` is the caller's class,
        raised with `where` named when the text is not a platform."""
        parts = text.split("/")
        if not 2 <= len(parts) <= 3 or not all(_PLATFORM_PART.fullmatch(p) for p in parts):
            raise error(f"{where}: {text!r} is not a platform like linux/amd64 or linux/arm64/v8")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def to_dict(self) -> dict[str, str]:
        data = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            data["variant"] = self.variant
        return data


def host_platform() -> Platform:
    """The platform whose manifest we pick from an image index."""
    machine = os.uname().machine  # what platform.machine() says, without importing it
    return Platform("linux", _ARCHITECTURES.get(machine, machine))


class Descriptor(NamedTuple):
    """A pointer to content: media type, digest and size (OCI descriptor)."""

    media_type: str
    digest: str
    size: int
    annotations: Mapping[str, str] = _NO_ANNOTATIONS
    platform: Platform | None = None
    artifact_type: str | None = None

    @property
    def title(self) -> str | None:
        return self.annotations.get(mediatypes.ANNOTATION_TITLE)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                                "size": self.size}
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        if self.platform:
            data["platform"] = self.platform.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Descriptor:
        if not isinstance(data, dict):
            raise ArtifactError(f"{where}: a descriptor must be an object")
        media_type = data.get("mediaType")
        digest = data.get("digest")
        size = data.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise ArtifactError(f"{where}: descriptor has no mediaType")
        if not isinstance(digest, str) or not is_digest(digest):
            raise ArtifactError(f"{where}: descriptor digest {digest!r} is not a sha256 digest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ArtifactError(f"{where}: descriptor size {size!r} is not a byte count")
        annotations = data.get("annotations") or {}
        if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            raise ArtifactError(f"{where}: descriptor annotations must map strings to strings")
        plat = None
        raw_platform = data.get("platform")
        if isinstance(raw_platform, dict):
            plat = Platform(str(raw_platform.get("os", "")),
                            str(raw_platform.get("architecture", "")),
                            raw_platform.get("variant") or None)
        artifact_type = data.get("artifactType")
        return cls(media_type, digest, size, annotations, plat,
                   artifact_type if isinstance(artifact_type, str) else None)


def empty_config() -> Descriptor:
    """OCI's empty descriptor (`{}`): the config of an artifact that needs none."""
    return Descriptor(mediatypes.OCI_EMPTY, sha256_digest(mediatypes.EMPTY_CONFIG),
                      len(mediatypes.EMPTY_CONFIG))


class Manifest(NamedTuple):
    """An image manifest: one config blob and its layers."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    artifact_type: str | None = None
    annotations: Mapping[str, str] = _NO_ANNOTATIONS
    subject: Descriptor | None = None  # OCI 1.1: the manifest this one refers to

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        return (self.config, *self.layers)

    def to_json(self) -> bytes:
        """Canonical bytes: the same manifest always has the same digest."""
        data: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type}
        if self.artifact_type:
            data["artifactType"] = self.artifact_type
        data["config"] = self.config.to_dict()
        data["layers"] = [layer.to_dict() for layer in self.layers]
        if self.subject is not None:
            data["subject"] = self.subject.to_dict()
        if self.annotations:
            data["annotations"] = dict(self.annotations)
        return json.dumps(data, separators=(",", ":"), sort_keys=False).encode()


class ImageIndex(NamedTuple):
    """A list of manifests, one per platform."""

    media_type: str
    manifests: tuple[Descriptor, ...]

    def select(self, wanted: Platform | None = None) -> Descriptor:
        """The manifest for `wanted` (the host by default), or a clear error."""
        wanted = wanted or host_platform()
        for descriptor in self.manifests:
            plat = descriptor.platform
            if plat and plat.os == wanted.os and plat.architecture == wanted.architecture:
                return descriptor
        available = ", ".join(str(d.platform) for d in self.manifests if d.platform) or "none"
        raise ArtifactError(f"no manifest for {wanted} (available: {available})")


def parse(raw: bytes, where: str, media_type: str | None = None) -> Manifest | ImageIndex:
    """Parse manifest or index bytes; `media_type` is the Content-Type when known."""
    data = load_object(raw, where, what="manifest", limit=MAX_MANIFEST_BYTES,
                       error=ArtifactError)
    if data.get("schemaVersion") != 2:
        raise ArtifactError(f"{where}: manifest schemaVersion {data.get('schemaVersion')!r} "
                            "is not supported (expected 2)")
    declared = data.get("mediaType")
    kind = declared if isinstance(declared, str) else (media_type or "")
    if kind in mediatypes.INDEX_TYPES or (not kind and "manifests" in data):
        entries = data.get("manifests")
        if not isinstance(entries, list):
            raise ArtifactError(f"{where}: image index has no manifests list")
        return ImageIndex(
            kind or mediatypes.OCI_INDEX,
            tuple(Descriptor.from_dict(d, f"{where}: manifests[{i}]")
                  for i, d in enumerate(entries)),
        )
    if kind and kind not in mediatypes.MANIFEST_TYPES:
        raise ArtifactError(f"{where}: unsupported manifest media type {kind!r}")
    layers = data.get("layers")
    if not isinstance(layers, list):
        raise ArtifactError(f"{where}: manifest has no layers list")
    annotations = data.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ArtifactError(f"{where}: manifest annotations must be an object")
    artifact_type = data.get("artifactType")
    subject = data.get("subject")
    return Manifest(
        kind or mediatypes.OCI_MANIFEST,
        Descriptor.from_dict(data.get("config"), f"{where}: config"),
        tuple(Descriptor.from_dict(d, f"{where}: layers[{i}]") for i, d in enumerate(layers)),
        artifact_type if isinstance(artifact_type, str) else None,
        {str(k): str(v) for k, v in annotations.items()},
        None if subject is None else Descriptor.from_dict(subject, f"{where}: subject"),
    )
