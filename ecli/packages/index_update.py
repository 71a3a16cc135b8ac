"""Fetching, checking and storing a source's index documents, for `IndexClient`.

`update` fetches a source's root and catalog, conditionally (ETag and
Last-Modified, kept in `META_FILE`), checks them against the signed root
(`ecli.packages.indextrust`) and stores them atomically, root first;
`fetch_package` does the same for one package document asked for and not
cached; `first_root` reads the root of a source being added. A document is
checked before it is stored: a refusal leaves the cache as it was.

Only fetching imports this module, and with it the index model's checks and
the trust module: `ecli search` and `ecli run NAME` of a cached package read
the cache through `ecli.packages.index_client` and never import it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ecli.errors import IndexTrustError, SourceError
from ecli.files import write_atomic
from ecli.hubindex import model
from ecli.packages import indextrust
from ecli.packages.index_client import (
    ENTRIES_FILE,
    IndexClient,
    UpdateResult,
    fetching,
    open_url,
    write_entries,
)
from ecli.packages.sources import Source, pin
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.net.base import Transport

META_FILE = "meta.json"  # each document's validators (ETag, Last-Modified)


class Fetched(NamedTuple):
    body: bytes | None  # None: not modified since the cached copy
    validators: dict[str, str]


def update_or_cached(client: IndexClient, source: Source, *, force: bool = False
                     ) -> UpdateResult:
    """`update`, or the cached catalog with the reason and its age when fetching fails."""
    try:
        return update(client, source, force=force)
    except IndexTrustError:
        raise  # refused, not unreachable: the cached copy is no answer to tampering
    except SourceError as exc:
        path = client.folder(source) / model.CATALOG_FILE
        if not path.exists():
            raise
        age = time.time() - path.stat().st_mtime
        return UpdateResult(source, False, len(client.catalog(source).packages),
                            exc.message, age)


def update(client: IndexClient, source: Source, *, force: bool = False) -> UpdateResult:
    """Fetch `source`'s root and, when it changed, its catalog; `force`: every
    document again, with no validators and no cached copy trusted."""
    if client.offline and source.is_remote:
        raise SourceError(f"{source.name}: not fetching the index (--pull never)")
    with _reader(client) as reader:
        return _update(client, source, reader, force)


def _update(client: IndexClient, source: Source, reader: _Reader, force: bool) -> UpdateResult:
    folder = client.folder(source)
    meta = {} if force else _meta(folder)
    root_fetch = reader.fetch(source, model.ROOT_FILE, meta.get(model.ROOT_FILE, {}))
    if root_fetch.body is None and (folder / model.CATALOG_FILE).exists():
        (folder / model.CATALOG_FILE).touch()  # checked now: its age restarts
        return UpdateResult(source, False, _count(client, source))
    root_raw = root_fetch.body or (folder / model.ROOT_FILE).read_bytes()
    checked = indextrust.check_root(
        source, root_raw, _where(source, model.ROOT_FILE),
        indextrust.accepted(client.paths.index_versions_file, source.name))
    root = checked.root
    if not force and indextrust.matches(root, root.catalog, folder / model.CATALOG_FILE):
        catalog_fetch = Fetched(None, meta.get(root.catalog, {}))  # same bytes: not fetched
    else:
        catalog_fetch = reader.fetch(source, root.catalog,
                                     {} if root.documents else meta.get(root.catalog, {}),
                                     indextrust.read_limit(root, root.catalog))
    changed = force or not (catalog_fetch.body is None
                            and (folder / model.CATALOG_FILE).exists())
    if changed:
        catalog_raw = catalog_fetch.body or b""
        indextrust.check_document(source, root, root.catalog, catalog_raw)
        catalog = model.load_catalog(catalog_raw, _where(source, root.catalog))
        shutil.rmtree(folder / model.PACKAGES_DIR, ignore_errors=True)  # stale now
    else:
        _drop_unlisted(folder / model.PACKAGES_DIR, root)
    # The root first: another ecli that sees the new catalog must find its root too.
    write_atomic(folder / model.ROOT_FILE, root_raw)
    if changed:
        write_atomic(folder / model.CATALOG_FILE, catalog_raw)
        write_entries(folder / ENTRIES_FILE, catalog)
    else:
        (folder / model.CATALOG_FILE).touch()  # checked now: its age restarts
    meta = {model.ROOT_FILE: root_fetch.validators, root.catalog: catalog_fetch.validators}
    write_atomic(folder / META_FILE, json.dumps(meta).encode())
    _trusted(client, source, checked)
    return UpdateResult(source, changed, len(catalog.packages) if changed
                        else _count(client, source))


def _trusted(client: IndexClient, source: Source, checked: indextrust.CheckedRoot) -> None:
    """Remember the accepted root's version; pin a hub key seen for the first time (in
    sources.json and in the client's sources, with a warning)."""
    if checked.root.signer is not None:
        indextrust.accept(client.paths.index_versions_file, source.name, checked.root.version)
    first = checked.first_use
    if first is not None:
        pinned = pin(client.paths.sources_file, source, first.key, first.fingerprint)
        client.sources = [pinned if s.name == source.name else s for s in client.sources]
        client.warnings.append(f"source {source.name}: pinned its hub key "
                               f"{first.fingerprint} on first use (trust on first use)")


def _count(client: IndexClient, source: Source) -> int:
    return len(client.source_lines(source)[0])


def fetch_package(client: IndexClient, source: Source, name: str,
                  cached: Path) -> model.PackageDocument:
    """Package `name`'s document, fetched, checked against the source's root (read by an
    update first when not cached) and stored at `cached`."""
    root_path = client.folder(source) / model.ROOT_FILE
    if not root_path.exists():
        update(client, source)
    root = model.load_root(root_path.read_bytes(), str(root_path))
    relative = root.packages.replace("{name}", name)
    with _reader(client) as reader:
        raw = reader.fetch(source, relative, {}, indextrust.read_limit(root, relative)).body or b""
    indextrust.check_document(source, root, relative, raw)
    document = model.load_package(raw, _where(source, relative))
    if document.name != name:
        raise SourceError(f"{_where(source, relative)}: describes {document.name!r}, "
                          f"not {name!r}")
    write_atomic(cached, raw)
    return document


def first_root(client: IndexClient, source: Source) -> indextrust.CheckedRoot:
    """The root of a source being added, checked against the key it pins, if any."""
    with _reader(client) as reader:
        raw = reader.fetch(source, model.ROOT_FILE, {}).body or b""
    return indextrust.check_root(source, raw, _where(source, model.ROOT_FILE), 0)


def forget(paths: Paths, name: str) -> None:
    """Drop source `name`'s cached index and the root version accepted from it."""
    shutil.rmtree(paths.index_cache_dir / name, ignore_errors=True)
    indextrust.forget(paths.index_versions_file, name)


def _meta(folder: Path) -> dict[str, dict[str, str]]:
    try:
        return json.loads((folder / META_FILE).read_bytes())
    except (OSError, ValueError):
        return {}


def _drop_unlisted(folder: Path, root: model.Root) -> None:
    """Drop cached package documents whose bytes a new root no longer lists (the catalog
    did not change, a package document may have): fetched again when asked for."""
    if not root.documents or not folder.is_dir():
        return
    for path in folder.glob("*.json"):
        if not indextrust.matches(root, root.packages.replace("{name}", path.stem), path):
            path.unlink(missing_ok=True)


def _where(source: Source, relative: str) -> str:
    return f"{source.location}{relative}" if source.is_remote else f"{source.location}/{relative}"


@contextlib.contextmanager
def _reader(client: IndexClient) -> Iterator[_Reader]:
    reader = _Reader(client.transport)
    try:
        yield reader
    finally:
        reader.close()


class _Reader:
    """Reads a source's documents: from its folder, or over HTTP through one transport
    (the client's, else an HTTPTransport opened on first use and closed after)."""

    def __init__(self, transport: Transport | None) -> None:
        self._given = transport
        self._opened: Transport | None = None

    def fetch(self, source: Source, relative: str, validators: dict[str, str],
              limit: int = model.MAX_DOCUMENT_BYTES) -> Fetched:
        """The document at `relative`: at most `limit` + 1 bytes of it (more is refused)."""
        if ".." in relative.split("/") or relative.startswith("/"):
            raise SourceError(f"{source.name}: refusing path {relative!r} outside the index")
        if not source.is_remote:
            path = Path(source.location) / relative
            try:
                with open(path, "rb") as file:
                    return Fetched(file.read(limit + 1), {})
            except OSError as exc:
                raise SourceError(f"{path}: cannot read: {exc.strerror}") from None
        return _fetch_http(self._transport(), source.location + relative, validators, limit)

    def close(self) -> None:
        if self._opened is not None:
            self._opened.close()

    def _transport(self) -> Transport:
        if self._given is not None:
            return self._given
        if self._opened is None:
            from ecli.net.transport import HTTPTransport  # not for a folder source

            self._opened = HTTPTransport()
        return self._opened


def _fetch_http(transport: Transport, url: str, validators: dict[str, str],
                limit: int) -> Fetched:
    """GET one document, conditionally when the cache has validators for it."""
    headers = {}
    if "etag" in validators:
        headers["If-None-Match"] = validators["etag"]
    if "last-modified" in validators:
        headers["If-Modified-Since"] = validators["last-modified"]
    hint = "check the source URL, or work offline from the cache"
    with fetching(url, hint), open_url(transport, url, headers, ok=(200, 304)) as response:
        if response.status == 304:
            return Fetched(None, validators)
        body = response.read(limit)
        kept = {name: value for name in ("etag", "last-modified")
                if (value := response.headers.get(name))}
    return Fetched(body, kept)
