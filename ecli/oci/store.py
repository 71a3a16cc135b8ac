"""The local content store: an OCI image layout on disk.

    ROOT/oci-layout              {"imageLayoutVersion": "1.0.0"}
    ROOT/index.json              one descriptor per ref, named by the
                                 org.opencontainers.image.ref.name annotation
    ROOT/blobs/sha256/HEX        content, named by its digest
    ROOT/.tmp/                   partial downloads (same file system, so the
                                 final os.replace is atomic), named with
                                 their writer's pid: what a killed ecli
                                 left is removed by the next one that takes
                                 the lock (ecli.files.remove_orphans)
    ROOT/.lock                   fcntl lock serialising writers of index.json

Being a standard layout is the point: `skopeo inspect oci:ROOT:REF`, `oras` and
`crane` read it, and `ecli build` writes the same format that `ecli pull`
fills. A blob is only ever visible under its name once its bytes hashed to
that name, so a crash or a corrupted download leaves nothing wrong behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ecli.errors import ArtifactError, DigestMismatchError, NotFoundError
from ecli.files import locked, owned_prefix, remove_orphans, write_atomic
from ecli.oci import mediatypes
from ecli.oci.manifest import (
    ANNOTATION_REF_NAME,
    Descriptor,
    Platform,
    is_digest,
    sha256_digest,
)

LAYOUT_VERSION = "1.0.0"


class Store:
    """An OCI image layout rooted at `root`; created on the first write."""

    def __init__(self, root: Path, parent: Store | None = None, *,
                 durable: bool = True) -> None:
        self.root = Path(root)
        self._swept = False
        self._parent = parent  # a staging store's: blobs it already holds are borrowed
        # False for a scratch store deleted within the command (checking a signature in
        # the registry): no fsync, which cost verifying 10,000 signatures most of its time.
        self._durable = durable

    # -- layout ---------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.root / "index.json"

    @property
    def _tmp_dir(self) -> Path:
        return self.root / ".tmp"

    def exists(self) -> bool:
        return (self.root / "oci-layout").is_file() and self.index_path.is_file()

    def ensure(self) -> None:
        """Create the layout skeleton; safe to call again and from several processes."""
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        self._tmp_dir.mkdir(exist_ok=True)
        layout = self.root / "oci-layout"
        if not layout.exists():
            write_atomic(layout, json.dumps({"imageLayoutVersion": LAYOUT_VERSION}).encode(),
                         tmp_dir=self._tmp_dir, durable=self._durable)
        if not self.index_path.exists():
            with self._locked():
                if not self.index_path.exists():
                    self._write_index([])

    @contextlib.contextmanager
    def staging(self) -> Iterator[Store]:
        """A scratch store inside this one's tmp dir (same file system): what is pulled
        there reaches this store only through `adopt`, and is removed whole otherwise,
        so a pull refused after its download (a signature that does not hold) leaves
        no blob behind."""
        self.ensure()
        folder = Path(tempfile.mkdtemp(dir=self._tmp_dir, prefix=owned_prefix("staging")))
        try:
            yield Store(folder, parent=self)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def adopt(self, staged: Store) -> None:
        """Move the blobs of `staged` here (renames, never copies) and then its refs."""
        self.ensure()
        for blob in sorted((staged.root / "blobs" / "sha256").glob("*")):
            target = self.root / "blobs" / "sha256" / blob.name
            if not target.exists():
                os.replace(blob, target)
        for descriptor in staged.refs():
            self.add_ref(descriptor.annotations[ANNOTATION_REF_NAME], descriptor.digest,
                         descriptor.media_type, descriptor.size, platform=descriptor.platform,
                         artifact_type=descriptor.artifact_type)

    # -- blobs ----------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise ArtifactError(f"{digest!r} is not a sha256 digest")
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def has(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def borrow(self, digest: str) -> bool:
        """`has`, or, for a staging store, the blob hard-linked from the store it stages
        for (same file system): a pull does not download again what is already kept."""
        if self.has(digest):
            return True
        if self._parent is None or not self._parent.has(digest):
            return False
        self.ensure()
        with contextlib.suppress(FileExistsError):
            os.link(self._parent.blob_path(digest), self.blob_path(digest))
        return True

    def read_blob(self, digest: str, *, verify: bool = False,
                  max_size: int | None = None) -> bytes:
        """Read a blob; `verify` re-hashes it (cheap for manifests and configs)."""
        path = self.blob_path(digest)
        try:
            with open(path, "rb") as blob:
                data = blob.read(max_size + 1) if max_size is not None else blob.read()
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} is not in the store {self.root}") from None
        if max_size is not None and len(data) > max_size:
            raise ArtifactError(f"blob {digest} is larger than {max_size} bytes")
        if verify:
            actual = sha256_digest(data)
            if actual != digest:
                raise DigestMismatchError(
                    f"blob {digest} in {self.root} is corrupted (its content hashes to {actual})",
                    hint=f"remove {path} and pull again",
                )
        return data

    def write_blob(self, data: bytes | Iterable[bytes], expected_digest: str | None = None,
                   *, expected_size: int | None = None, max_size: int | None = None,
                   where: str = "") -> str:
        """Store content and return its digest.

        The bytes go to a temp file in the store's own tmp dir, are hashed on
        the way, and are renamed into place only when the digest (and size)
        match what was expected: on a mismatch nothing is left behind.
        """
        if expected_digest is not None and not is_digest(expected_digest):
            raise ArtifactError(f"{where or 'blob'}: {expected_digest!r} is not a sha256 digest")
        self.ensure()
        chunks = [data] if isinstance(data, bytes | bytearray | memoryview) else data
        limit = expected_size if expected_size is not None else max_size
        label = where or expected_digest or "blob"
        hasher = hashlib.sha256()
        written = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp_dir, prefix=owned_prefix("blob"))
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    written += len(chunk)
                    if limit is not None and written > limit:
                        raise DigestMismatchError(
                            f"{label}: more than the {limit} bytes expected")
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                if self._durable:
                    os.fsync(out.fileno())
            if expected_size is not None and written != expected_size:
                raise DigestMismatchError(
                    f"{label}: got {written} bytes, expected {expected_size}")
            digest = "sha256:" + hasher.hexdigest()
            if expected_digest is not None and digest != expected_digest:
                raise DigestMismatchError(
                    f"{label}: digest mismatch: expected {expected_digest}, got {digest}")
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, self.blob_path(digest))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        return digest

    # -- refs (index.json) ----------------------------------------------------

    def refs(self) -> list[Descriptor]:
        """Every descriptor in index.json, oldest first."""
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{self.index_path}: not JSON ({exc})") from None
        manifests = data.get("manifests") if isinstance(data, dict) else None
        if not isinstance(manifests, list):
            raise ArtifactError(f"{self.index_path}: has no manifests list")
        return [Descriptor.from_dict(d, f"{self.index_path}: manifests[{i}]")
                for i, d in enumerate(manifests)]

    def resolve_ref(self, name: str) -> str | None:
        descriptor = self.find_ref(name)
        return descriptor.digest if descriptor else None

    def find_ref(self, name: str) -> Descriptor | None:
        for descriptor in reversed(self.refs()):
            if descriptor.annotations.get(ANNOTATION_REF_NAME) == name:
                return descriptor
        return None

    def ref_names(self, digest: str) -> list[str]:
        """Names that point at `digest`, oldest first."""
        return [d.annotations[ANNOTATION_REF_NAME] for d in self.refs()
                if d.digest == digest and ANNOTATION_REF_NAME in d.annotations]

    def add_ref(self, name: str, digest: str, media_type: str = mediatypes.OCI_MANIFEST,
                size: int | None = None, *, platform: Platform | None = None,
                artifact_type: str | None = None) -> Descriptor:
        """Point `name` at a manifest already in the store (moving it if it existed)."""
        if not name or any(c.isspace() for c in name):
            raise ArtifactError(f"{name!r} is not a valid ref name")
        if not self.has(digest):
            raise NotFoundError(f"cannot tag {name}: manifest {digest} is not in the store")
        if size is None:
            size = self.blob_path(digest).stat().st_size
        descriptor = Descriptor(media_type, digest, size, {ANNOTATION_REF_NAME: name},
                                platform, artifact_type)
        self.ensure()
        with self._locked():
            entries = [d for d in self.refs() if d.annotations.get(ANNOTATION_REF_NAME) != name]
            entries.append(descriptor)
            self._write_index(entries)
        return descriptor

    def remove_ref(self, name: str) -> bool:
        if not self.index_path.exists():
            return False
        with self._locked():
            entries = self.refs()
            kept = [d for d in entries if d.annotations.get(ANNOTATION_REF_NAME) != name]
            if len(kept) == len(entries):
                return False
            self._write_index(kept)
        return True

    # -- internals --------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock across processes for read-modify-write of index.json; the
        first time this Store takes it, temp files of killed writers go."""
        with locked(self.root / ".lock"):
            if not self._swept:
                self._swept = True
                remove_orphans(self._tmp_dir)
            yield

    def _write_index(self, entries: list[Descriptor]) -> None:
        data: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [d.to_dict() for d in entries],
        }
        write_atomic(self.index_path, json.dumps(data, indent=2).encode() + b"\n",
                     tmp_dir=self._tmp_dir, durable=self._durable)
