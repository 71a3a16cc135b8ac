"""OCI image-layout archives (`ecli save` / `ecli load`) and copies between layouts.

An archive is a plain tar of an OCI image layout: `oci-layout`, `index.json`
(one descriptor per saved reference, named by the
`org.opencontainers.image.ref.name` annotation) and `blobs/sha256/HEX`.
`skopeo copy oci-archive:FILE.tar:REF ...` reads it, and so does `ecli load`
on a machine with no network: digests are kept, and every blob is hashed on
the way into the store (the archive is not trusted; its names are checked as
strictly as a bundle's: only those three kinds of member, regular files, no
member larger than `MAX_MEMBER_BYTES`).

`save` may add descriptors whose content is not in the store (`extra`, with
their bytes): ecli's index entries travel that way (`ecli.packages.airgap`).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ecli.errors import ArtifactError, NotFoundError
from ecli.oci import mediatypes
from ecli.oci.manifest import (
    ANNOTATION_REF_NAME,
    MAX_MANIFEST_BYTES,
    Descriptor,
    ImageIndex,
    is_digest,
    parse,
)
from ecli.oci.store import Store

MAX_ARCHIVE_MEMBERS = 100_000
MAX_MEMBER_BYTES = 4 << 30  # one blob; larger is refused before a byte is read


def closure(store: Store, digest: str) -> list[str]:
    """Every blob a manifest (or index) needs, children first, itself last."""
    raw = store.read_blob(digest, verify=True, max_size=MAX_MANIFEST_BYTES)
    parsed = parse(raw, digest)
    needed: list[str] = []
    if isinstance(parsed, ImageIndex):
        for child in parsed.manifests:
            if store.has(child.digest):  # other platforms may be absent: that is fine
                needed += closure(store, child.digest)
    else:
        needed += [blob.digest for blob in parsed.blobs]
    needed.append(digest)
    return list(dict.fromkeys(needed))


def copy(source: Store, digest: str, target: Store) -> None:
    """Copy a manifest and its blobs from one layout to another, re-verifying each."""
    for blob in closure(source, digest):
        if not target.has(blob):
            with open(source.blob_path(blob), "rb") as handle:
                target.write_blob(iter(lambda: handle.read(1 << 20), b""), blob,
                                  where=f"{source.root}: {blob}")


def save(store: Store, refs: Sequence[Descriptor], output: Path,
         extra: Sequence[Descriptor] = (), extra_blobs: Mapping[str, bytes] | None = None
         ) -> int:
    """Write `refs` (descriptors of store refs) and their blobs to a tar, then `extra`
    (descriptors whose blobs, all of them, are `extra_blobs`); return its size."""
    index = {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
             "manifests": [d.to_dict() for d in (*refs, *extra)]}
    blobs: list[str] = []
    for descriptor in refs:
        blobs += closure(store, descriptor.digest)
    buffer_name = output.with_name(f".{output.name}.partial")
    now = int(time.time())
    try:
        with tarfile.open(buffer_name, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}', now)
            _add_bytes(tar, "index.json", json.dumps(index, indent=2).encode(), now)
            for digest in dict.fromkeys(blobs):
                info = tar.gettarinfo(str(store.blob_path(digest)),
                                      f"blobs/sha256/{digest.removeprefix('sha256:')}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(store.blob_path(digest), "rb") as handle:
                    tar.addfile(info, handle)
            for digest, data in (extra_blobs or {}).items():
                _add_bytes(tar, f"blobs/sha256/{digest.removeprefix('sha256:')}", data, now)
        buffer_name.replace(output)
    except BaseException:
        buffer_name.unlink(missing_ok=True)
        raise
    return output.stat().st_size


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o644
    tar.addfile(info, io.BytesIO(data))


def load(archive: Path, store: Store) -> list[Descriptor]:
    """Import an archive into `store`: verify every blob, then tag its refs."""
    where = str(archive)
    try:
        tar = tarfile.open(archive, "r:*")  # noqa: SIM115 (closed by the with below)
    except (OSError, tarfile.TarError) as exc:
        raise ArtifactError(f"{where}: not a readable tar archive ({exc})") from None
    index_raw = None
    members = 0
    with tar:
        try:
            for member in tar:
                members += 1
                if members > MAX_ARCHIVE_MEMBERS:
                    raise ArtifactError(f"{where}: more than {MAX_ARCHIVE_MEMBERS} members")
                name = member.name.removeprefix("./")
                if member.isdir() and name.rstrip("/") in ("", "blobs", "blobs/sha256"):
                    continue
                if not member.isfile():
                    raise ArtifactError(f"{where}: {member.name!r} is not a regular file; "
                                        "an image layout holds only files")
                if member.size > MAX_MEMBER_BYTES:
                    raise ArtifactError(f"{where}: member {member.name!r} is {member.size} "
                                        f"bytes, more than the {MAX_MEMBER_BYTES} allowed")
                handle = tar.extractfile(member)
                assert handle is not None
                if name == "index.json":
                    index_raw = handle.read(MAX_MANIFEST_BYTES + 1)
                elif name == "oci-layout":
                    _check_layout(handle.read(4096), where)
                elif name.startswith("blobs/sha256/") and is_digest(
                        "sha256:" + name.removeprefix("blobs/sha256/")):
                    digest = "sha256:" + name.removeprefix("blobs/sha256/")
                    store.write_blob(iter(lambda h=handle: h.read(1 << 20), b""), digest,
                                     expected_size=member.size, where=f"{where}: {name}")
                else:
                    raise ArtifactError(f"{where}: unexpected member {member.name!r} "
                                        "(an image layout holds oci-layout, index.json, "
                                        "blobs/sha256/*)")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ArtifactError(f"{where}: the archive is damaged ({exc})") from None
    if index_raw is None:
        raise ArtifactError(f"{where}: no index.json: not an OCI image-layout archive")
    refs = _index_refs(index_raw, where)
    for descriptor in refs:
        try:
            needed = closure(store, descriptor.digest)
        except NotFoundError:
            needed = [descriptor.digest]
        for blob in needed:
            if not store.has(blob):
                raise ArtifactError(f"{where}: blob {blob} is missing from the archive")
    for descriptor in refs:
        name = descriptor.annotations.get(ANNOTATION_REF_NAME)
        if name:
            store.add_ref(name, descriptor.digest, descriptor.media_type, descriptor.size,
                          platform=descriptor.platform, artifact_type=descriptor.artifact_type)
    return refs


def _check_layout(raw: bytes, where: str) -> None:
    try:
        version = json.loads(raw).get("imageLayoutVersion")
    except (ValueError, AttributeError):
        version = None
    if version != "1.0.0":
        raise ArtifactError(f"{where}: oci-layout says version {version!r}, expected 1.0.0")


def _index_refs(raw: bytes, where: str) -> list[Descriptor]:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{where}: index.json is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArtifactError(f"{where}: index.json is not JSON ({exc})") from None
    manifests = data.get("manifests") if isinstance(data, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise ArtifactError(f"{where}: index.json lists no manifests")
    return [Descriptor.from_dict(d, f"{where}: index.json manifests[{i}]")
            for i, d in enumerate(manifests)]

