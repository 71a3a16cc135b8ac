"""eBPF Hub packages as OCI artifacts: read one from a store, or create one.

Reading turns a manifest in the store into a `Package`: its PackageConfig and
the paths of its files. Our own format carries the config as its config blob;
bumblebee's carries an empty config and one `program.o` layer, for which a
kind `bpf` config is synthesised so the runtime sees one shape only.

Creating writes config blob, layer blobs and an OCI image manifest with
`artifactType` into a store (an OCI layout) and tags it: `ecli build` uses it,
and tests use it to make artifacts without a compiler round trip.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from ecli.errors import ArtifactError, EcliError, NotFoundError
from ecli.oci import mediatypes
from ecli.oci import reference as references
from ecli.oci.config import MAX_CONFIG_BYTES, NAME_PATTERN, OBJECT_KINDS, PackageConfig
from ecli.oci.manifest import (
    ANNOTATION_DESCRIPTION,
    ANNOTATION_LICENSES,
    ANNOTATION_VERSION,
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    Manifest,
    Platform,
    parse,
)
from ecli.oci.reference import OciReference
from ecli.oci.store import Store

FORMAT_EBPFHUB = "ebpfhub"
FORMAT_BUMBLEBEE = "bumblebee"
FORMAT_WASM = "wasm"  # a wasm module as wasm-to-oci, oras and eunomia-bpf push it
BUMBLEBEE_OBJECT = "program.o"
WASM_MODULE = "module.wasm"  # the title of an untitled wasm layer


class Package(NamedTuple):
    """A package ready to run: its config and where its files are on disk."""

    digest: str
    manifest: Manifest
    config: PackageConfig
    files: dict[str, Path]  # layer title -> blob path
    format: str = FORMAT_EBPFHUB
    # The image index this platform's manifest was chosen from, when there was one:
    # the digest its reference (and the hub's pin) names, unlike `digest`.
    index_digest: str | None = None

    @property
    def object_path(self) -> Path | None:
        """The file ecli runs itself: the eBPF object of kind `bpf`, the module of `wasm`;
        None for other kinds."""
        if self.config.kind not in ("bpf", "wasm") or not self.config.object:
            return None
        return self.files.get(self.config.object)


def load(store: Store, digest: str, *, reference: OciReference | None = None) -> Package:
    """Read and check the package whose manifest is `digest` in `store`.

    `reference` only helps name a bumblebee artifact (whose config is empty);
    without it, a ref name recorded in the store is used.
    """
    where = str(reference) if reference else digest
    raw = store.read_blob(digest, verify=True, max_size=MAX_MANIFEST_BYTES)
    parsed = parse(raw, where)
    if isinstance(parsed, ImageIndex):
        descriptor = parsed.select()
        return load(store, descriptor.digest, reference=reference)
    config_type = parsed.config.media_type
    if config_type == mediatypes.PACKAGE_CONFIG:
        config = PackageConfig.from_json(_read_config(store, parsed, where), where)
        package_format = FORMAT_EBPFHUB
    elif config_type == mediatypes.BUMBLEBEE_CONFIG:
        config = _bumblebee_config(store, parsed, digest, reference)
        package_format = FORMAT_BUMBLEBEE
    elif is_wasm_artifact(parsed):
        config = _wasm_config(store, parsed, digest, reference)
        package_format = FORMAT_WASM
    else:
        raise ArtifactError(
            f"{where}: not an eBPF package (config media type {config_type!r})",
            hint="container images run with podman or docker; eBPF Hub packages use "
                 f"{mediatypes.PACKAGE_CONFIG}",
        )
    files = _layer_files(store, parsed, where, package_format)
    if config.kind in OBJECT_KINDS and config.object not in files:
        what = {"wasm": "wasm module", "eunomia-json": "eunomia package.json"}.get(
            config.kind, "eBPF object")
        raise ArtifactError(f"{where}: the package names object {config.object!r} "
                            f"but has no {what} layer with that title")
    return Package(digest, parsed, config, files, package_format)


def find(store: Store, ref: OciReference) -> Package | None:
    """The package `ref` names if it is already in the store (no network), else None."""
    digest = ref.digest if ref.digest and store.has(ref.digest) else store.resolve_ref(str(ref))
    if digest is None or not store.has(digest):
        return None
    return load(store, digest, reference=ref)


def create(store: Store, config: PackageConfig, files: Sequence[Path], *,
           tag: str | None = None, license_id: str | None = None,
           platform: Platform | None = None) -> Descriptor:
    """Write `config` and `files` as an artifact into `store`; tag it when asked.

    Each file becomes one layer titled with its file name. The manifest is
    canonical JSON with no timestamps: the same inputs give the same digest.
    """
    titles = [path.name for path in files]
    if len(set(titles)) != len(titles):
        raise ArtifactError("two files of the package have the same name")
    if config.kind in OBJECT_KINDS and config.object not in titles:
        raise ArtifactError(f"the package's object {config.object!r} is not among its files")
    bundles = [t for t in titles if t.endswith((".tar.gz", ".tgz"))]
    if config.kind == "bundle" and len(bundles) != 1:
        raise ArtifactError("a package of kind 'bundle' needs exactly one .tar.gz file "
                            f"(docs/formats.md, kind bundle); got {len(bundles)}")
    layers = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"cannot read {path}: {exc.strerror}") from None
        digest = store.write_blob(data)
        layers.append(Descriptor(_layer_media_type(path), digest, len(data),
                                 {mediatypes.ANNOTATION_TITLE: path.name}))
    config_bytes = config.to_json()
    config_digest = store.write_blob(config_bytes)
    annotations = {ANNOTATION_VERSION: config.version}
    if config.description:
        annotations[ANNOTATION_DESCRIPTION] = config.description
    if license_id:
        annotations[ANNOTATION_LICENSES] = license_id
    manifest = Manifest(
        mediatypes.OCI_MANIFEST,
        Descriptor(mediatypes.PACKAGE_CONFIG, config_digest, len(config_bytes)),
        tuple(layers),
        mediatypes.ARTIFACT_TYPE,
        annotations,
    )
    raw = manifest.to_json()
    digest = store.write_blob(raw)
    descriptor = Descriptor(mediatypes.OCI_MANIFEST, digest, len(raw), {}, platform,
                            mediatypes.ARTIFACT_TYPE)
    if tag:
        descriptor = store.add_ref(tag, digest, mediatypes.OCI_MANIFEST, len(raw),
                                   platform=platform, artifact_type=mediatypes.ARTIFACT_TYPE)
    return descriptor


def _layer_media_type(path: Path) -> str:
    name = path.name
    if name.endswith(".o"):
        return mediatypes.BPF_OBJECT
    if name.endswith((".tar.gz", ".tgz")):
        return mediatypes.BUNDLE_TAR_GZIP
    if name.endswith(".wasm"):
        return mediatypes.WASM_MODULE
    if name.endswith(".btf"):
        return mediatypes.EVENT_BTF
    if name.endswith(".json"):
        return mediatypes.EUNOMIA_PACKAGE
    raise ArtifactError(f"{path}: cannot tell its layer type (expected .o, .btf, .json, .wasm, "
                        ".tar.gz or .tgz)")


def _read_config(store: Store, manifest: Manifest, where: str) -> bytes:
    if manifest.config.size > MAX_CONFIG_BYTES:
        raise ArtifactError(f"{where}: package config is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return store.read_blob(manifest.config.digest, verify=True, max_size=MAX_CONFIG_BYTES)
    except NotFoundError:
        raise ArtifactError(f"{where}: config blob {manifest.config.digest} is missing",
                            hint="pull the package again") from None


def _layer_files(store: Store, manifest: Manifest, where: str,
                 package_format: str) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for layer in manifest.layers:
        title = layer.title
        if package_format == FORMAT_BUMBLEBEE and layer.media_type == mediatypes.BUMBLEBEE_PROGRAM:
            title = title or BUMBLEBEE_OBJECT
        if package_format == FORMAT_WASM and layer.media_type == mediatypes.WASM_MODULE:
            title = title or WASM_MODULE
        if not title:
            continue
        if "/" in title or title in (".", ".."):
            raise ArtifactError(f"{where}: layer title {title!r} is not a plain file name")
        path = store.blob_path(layer.digest)
        if not path.is_file():
            raise ArtifactError(f"{where}: layer {title} ({layer.digest}) is missing",
                                hint="pull the package again")
        files[title] = path
    return files


def is_wasm_artifact(manifest: Manifest) -> bool:
    """A wasm module pushed by wasm-to-oci or eunomia-bpf (wasm config type) or by
    `oras push --artifact-type` (the empty config, the wasm config type as artifactType)."""
    return manifest.config.media_type == mediatypes.WASM_CONFIG or (
        manifest.config.media_type == mediatypes.OCI_EMPTY
        and manifest.artifact_type == mediatypes.WASM_CONFIG)


def _wasm_config(store: Store, manifest: Manifest, digest: str,
                 reference: OciReference | None) -> PackageConfig:
    """A wasm artifact's config says nothing ecli needs: name and version as bumblebee's."""
    modules = [layer for layer in manifest.layers
               if layer.media_type == mediatypes.WASM_MODULE]
    if len(modules) != 1:
        raise ArtifactError(f"{reference or digest}: a wasm artifact must have exactly one "
                            f"{mediatypes.WASM_MODULE} layer, found {len(modules)}")
    name, version = _named(store, digest, reference, "module")
    return PackageConfig(name=name, version=version, kind="wasm",
                         description=manifest.annotations.get(ANNOTATION_DESCRIPTION, ""),
                         object=modules[0].title or WASM_MODULE)


def _named(store: Store, digest: str, reference: OciReference | None,
           default: str) -> tuple[str, str]:
    """Name and version of an artifact whose config has none: its repository and tag."""
    if reference is None:
        for name in store.ref_names(digest):
            try:
                reference = references.parse(name)
                break
            except EcliError:
                continue
    name = default
    version = "0.0.0"
    if reference is not None:
        candidate = re.sub(r"[^a-z0-9-]+", "-", reference.repository.rsplit("/", 1)[-1]).strip("-")
        if NAME_PATTERN.match(candidate):
            name = candidate
        if reference.tag:
            version = reference.tag
    return name, version


def _bumblebee_config(store: Store, manifest: Manifest, digest: str,
                      reference: OciReference | None) -> PackageConfig:
    """Bumblebee's config is `{}`: name, version and description come from elsewhere."""
    name, version = _named(store, digest, reference, "program")
    programs = [layer for layer in manifest.layers
                if layer.media_type in mediatypes.BPF_OBJECT_TYPES]
    if len(programs) != 1:
        raise ArtifactError(f"{reference or digest}: a bumblebee artifact must have exactly "
                            f"one program layer, found {len(programs)}")
    return PackageConfig(
        name=name,
        version=version,
        kind="bpf",
        description=manifest.annotations.get(ANNOTATION_DESCRIPTION, ""),
        object=programs[0].title or BUMBLEBEE_OBJECT,
    )
