"""`ecli cache`: what the cache holds, and pruning it without touching installs.

Pruning removes leftovers of interrupted work (temporary files older than a
grace period, so a pull running right now keeps its partial blobs), blobs no
reference reaches, and extracted bundles no installed package uses. With
`all_refs`, cached references that no installed package needs go too (the
signatures of installed ones stay, for checking them offline), and so do
downloads and the cached indexes: the next command fetches them again.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ecli.packages import state
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.oci.store import Store

TMP_GRACE_SECONDS = 600


@dataclass(frozen=True)
class PruneResult:
    files: int
    bytes: int


def usage(paths: Paths) -> dict[str, int]:
    """Bytes used per cache area."""
    areas = {"oci": paths.oci_store_dir, "bundles": paths.bundles_dir,
             "index": paths.index_cache_dir, "downloads": paths.downloads_dir,
             "tmp": paths.tmp_dir}
    return {name: _size(folder) for name, folder in areas.items()}


def _size(folder: Path) -> int:
    if not folder.exists():
        return 0
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def prune(paths: Paths, *, all_refs: bool = False, now: float | None = None) -> PruneResult:
    from ecli.errors import EcliError
    from ecli.oci import archive
    from ecli.oci.manifest import ANNOTATION_REF_NAME
    from ecli.oci.store import Store

    now = time.time() if now is None else now
    removed = [0, 0]

    def drop(path: Path) -> None:
        try:
            size = path.lstat().st_size if not path.is_dir() else _size(path)
        except OSError:
            return
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed[0] += 1
        removed[1] += size

    store = Store(paths.oci_store_dir)
    installed = state.read(paths)
    for tmp in (store.root / ".tmp", paths.tmp_dir, paths.bundles_dir):
        for entry in tmp.glob(".*" if tmp == paths.bundles_dir else "*") if tmp.is_dir() else []:
            if now - entry.lstat().st_mtime > TMP_GRACE_SECONDS:
                drop(entry)
    if store.exists():
        keep_digests = {record.digest for record in installed.values()}
        if all_refs:
            for descriptor in store.refs():
                name = descriptor.annotations.get(ANNOTATION_REF_NAME, "")
                if descriptor.digest not in keep_digests and not _signs_kept(
                        store, name, keep_digests):
                    store.remove_ref(name)
        reachable: set[str] = set()
        for descriptor in store.refs():
            try:
                reachable.update(archive.closure(store, descriptor.digest))
            except EcliError:
                continue  # a damaged ref: its blobs go; pulling it again repairs it
        for digest in keep_digests:
            if store.has(digest):
                reachable.update(archive.closure(store, digest))
        for blob in (store.root / "blobs" / "sha256").glob("*"):
            if f"sha256:{blob.name}" not in reachable:
                drop(blob)
    used = _bundles_in_use(paths, installed)
    for folder in paths.bundles_dir.glob("sha256-*") if paths.bundles_dir.is_dir() else []:
        if folder.name not in used:
            drop(folder)
    if all_refs:  # downloads, and the cached indexes (the next command fetches them again)
        for folder in (paths.downloads_dir, paths.index_cache_dir):
            for entry in folder.iterdir() if folder.is_dir() else ():
                drop(entry)
    return PruneResult(removed[0], removed[1])


def _signs_kept(store: Store, ref_name: str, kept: set[str]) -> bool:
    """Whether `ref_name` is the signature tag of a kept package: of its manifest, or
    of the image index it was chosen from (the verification offline needs it)."""
    from ecli.errors import EcliError
    from ecli.oci import archive, signatures

    signed = signatures.signed_digest(ref_name.rsplit(":", 1)[-1])
    if signed is None or not store.has(signed):
        return False
    try:
        return signed in kept or bool(kept & set(archive.closure(store, signed)))
    except EcliError:
        return False


def _bundles_in_use(paths: Paths, installed: dict[str, state.Installed]) -> set[str]:
    from ecli.packages.install import bundle_dirs

    used: set[str] = set()
    for record in installed.values():
        if record.kind == "bundle":
            used |= bundle_dirs(record, paths)
    return used
