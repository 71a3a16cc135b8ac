"""Fetch, cache and look up the JSON indexes of the configured sources.

`update` fetches each source's root and catalog, conditionally (ETag and
Last-Modified), and stores them atomically under the cache; lookups work
from that cache, offline. Per-package documents are fetched only when a
package is asked for, and dropped by the next `update` that changes the
catalog, so a sparse client stays current.

One unreachable source does not stop the others: lookups skip it with a
warning (in `warnings`, printed by the CLI) as long as another source
answers; `update` falls back to the cached copy and says how old it is.
With `offline`, nothing is fetched over the network (pull policy `never`).

A signed index (`ecli.packages.indextrust`): the root is checked against the
source's pinned hub key and the last version accepted, and each document
against the digest the root lists before it is stored; a document whose
digest did not change is not fetched again, so an unchanged `update` is one
request per source. A refusal is never answered with the cached copy.

Remote sources are read through an ecli.net transport, as registries are:
the host's CA from certs.d, proxies from the environment, and an overall
deadline per request (ECLI_HTTP_TIMEOUT). `open_url` and `fetching` are
the package side's HTTP errors, shared with URL downloads (ecli.packages.locate).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ecli.errors import IndexTrustError, NotFoundError, SourceError, TransportError
from ecli.files import write_atomic
from ecli.packages.sources import Source, load, pin
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.hubindex import model
    from ecli.net.base import Response, Transport
    from ecli.packages import indextrust

# `ecli search` reads only ENTRIES_FILE: the index model and the trust checks (their
# dataclasses cost a fifth of its time to import) are imported by the methods that use them.
# `ecli run NAME` finds a name and reads its cached document: the search ranking, the
# suggestions and the trust checks (used when a document is fetched) are imported lazily too.

META_FILE = "meta.json"
ENTRIES_FILE = "entries.tsv"  # the checked catalog, flattened for fast search and lookup
# The entries, one tab-separated line each; then, after a line of `_TEXTS`, the same
# entries' search texts (search_rank.search_text) in the same order, so a search
# matches whole lines in C and splits only its hits.
_ENTRIES_HEADER = "ecli-entries 2\n"
_LIST = "\x1f"
_TEXTS = "\x1e\n"


class SearchHit(NamedTuple):
    """One search result: the columns a listing shows.

    A tuple rather than a whole CatalogEntry: a broad term over a big
    catalog returns thousands of hits, and building frozen dataclasses
    for them cost more than the search itself.
    """

    source: str
    name: str
    summary: str
    kind: str
    latest: str | None


class UpdateResult(NamedTuple):
    source: Source
    changed: bool
    packages: int
    offline_error: str | None = None  # the fetch failed; the cache below was used
    cache_age_seconds: float | None = None


class Fetched(NamedTuple):
    body: bytes | None  # None: not modified since the cached copy
    validators: dict[str, str]


class IndexClient:
    """The sources' indexes: fetched by `update`, looked up from the cache.

    `transport` replaces the network (tests); by default each `update` and
    each package document fetched opens its own HTTPTransport, and closes it.
    """

    def __init__(self, paths: Paths, *, offline: bool = False,
                 transport: Transport | None = None) -> None:
        self.paths = paths
        self.sources = load(paths.sources_file)
        self.offline = offline
        self.transport = transport
        self.warnings: list[str] = []

    def require_sources(self) -> list[Source]:
        if not self.sources:
            raise SourceError("no package sources are configured",
                              hint="add one: ecli sources add NAME URL-or-FOLDER")
        return self.sources

    # -- update ---------------------------------------------------------------

    def update_or_cached(self, source: Source, *, force: bool = False) -> UpdateResult:
        """`update`, or the cached catalog with the reason and its age when fetching fails."""
        from ecli.hubindex import model

        try:
            return self.update(source, force=force)
        except IndexTrustError:
            raise  # refused, not unreachable: the cached copy is no answer to tampering
        except SourceError as exc:
            path = self._folder(source) / model.CATALOG_FILE
            if not path.exists():
                raise
            age = time.time() - path.stat().st_mtime
            return UpdateResult(source, False, len(self.catalog(source).packages),
                                exc.message, age)

    def update(self, source: Source, *, force: bool = False) -> UpdateResult:
        """Fetch `source`'s root and, when it changed, its catalog; `force`: every
        document again, with no validators and no cached copy trusted."""
        if self.offline and source.is_remote:
            raise SourceError(f"{source.name}: not fetching the index (--pull never)")
        with self._reader() as reader:
            return self._update(source, reader, force)

    def _update(self, source: Source, reader: _Reader, force: bool = False) -> UpdateResult:
        from ecli.hubindex import model
        from ecli.packages import indextrust

        folder = self._folder(source)
        meta = {} if force else self._meta(folder)
        root_fetch = reader.fetch(source, model.ROOT_FILE, meta.get(model.ROOT_FILE, {}))
        if root_fetch.body is None and (folder / model.CATALOG_FILE).exists():
            (folder / model.CATALOG_FILE).touch()  # checked now: its age restarts
            return UpdateResult(source, False, self._count(source))
        root_raw = root_fetch.body or (folder / model.ROOT_FILE).read_bytes()
        checked = indextrust.check_root(
            source, root_raw, _where(source, model.ROOT_FILE),
            indextrust.accepted(self.paths.index_versions_file, source.name))
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
            _write_entries(folder / ENTRIES_FILE, catalog)
        else:
            (folder / model.CATALOG_FILE).touch()  # checked now: its age restarts
        meta = {model.ROOT_FILE: root_fetch.validators, root.catalog: catalog_fetch.validators}
        write_atomic(folder / META_FILE, json.dumps(meta).encode())
        self._trusted(source, checked)
        return UpdateResult(source, changed, len(catalog.packages) if changed
                            else self._count(source))

    def _trusted(self, source: Source, checked: indextrust.CheckedRoot) -> None:
        """Remember the accepted root's version; pin a hub key seen for the first time."""
        from ecli.packages import indextrust

        if checked.root.signer is not None:
            indextrust.accept(self.paths.index_versions_file, source.name, checked.root.version)
        first = checked.first_use
        if first is not None:
            pinned = pin(self.paths.sources_file, source, first.key, first.fingerprint)
            self.sources = [pinned if s.name == source.name else s for s in self.sources]
            self.warnings.append(f"source {source.name}: pinned its hub key {first.fingerprint} "
                                 "on first use (trust on first use)")

    def _count(self, source: Source) -> int:
        return len(self._source_lines(source)[0])

    # -- lookups --------------------------------------------------------------

    def catalog(self, source: Source) -> model.Catalog:
        from ecli.hubindex import model

        path = self._folder(source) / model.CATALOG_FILE
        if not path.exists():
            if self.offline and source.is_remote:
                raise SourceError(f"{source.name}: its index is not cached and --pull is never",
                                  hint="run 'ecli update' while online")
            self.update(source)
        return model.load_catalog(path.read_bytes(), str(path))

    def _readable(self) -> Iterator[tuple[Source, list[str], list[str]]]:
        """Each source's flattened catalog and search texts; a source that cannot be read
        is skipped with a warning while another source answers, and is the error when
        none does."""
        sources = self.require_sources()
        failures: list[SourceError] = []
        for source in sources:
            try:
                lines, texts = self._source_lines(source)
            except SourceError as exc:
                failures.append(exc)
                self.warnings.append(f"source {source.name} skipped: {exc.message}")
                continue
            yield source, lines, texts
        if len(failures) == len(sources):
            first = failures[0].message
            if not first.startswith(f"{sources[0].name}: "):  # say which source, once
                first = f"source {sources[0].name}: {first}"
            more = f" (and {len(failures) - 1} other source(s))" if len(failures) > 1 else ""
            raise SourceError(first + more, hint=failures[0].hint or
                              "check 'ecli sources list', or add one: ecli sources add NAME URL")

    def _source_lines(self, source: Source) -> tuple[list[str], list[str]]:
        """The source's catalog as flattened lines and their search texts (`ENTRIES_FILE`,
        written by `update`).

        Reading 10,000 entries this way takes milliseconds, against a quarter
        of a second for checking the catalog's JSON field by field again.
        """
        path = self._folder(source) / ENTRIES_FILE
        try:  # bytes decoded at once: read_text's newline translation costs more than the search
            lines, found, texts = path.read_bytes().decode().partition(_TEXTS)
        except (FileNotFoundError, UnicodeDecodeError):
            lines, found, texts = "", "", ""
        # "\n" only: splitlines() would also split at \x85, \x1c-\x1e or U+2028 in a summary
        entries, searched = lines.split("\n")[1:-1], texts.split("\n")[:-1]
        if not (found and lines.startswith(_ENTRIES_HEADER)) or len(entries) != len(searched):
            _write_entries(path, self.catalog(source))  # an older ecli's, or cut short
            lines, _, texts = path.read_bytes().decode().partition(_TEXTS)
            entries, searched = lines.split("\n")[1:-1], texts.split("\n")[:-1]
        return entries, searched

    def search(self, term: str) -> list[SearchHit]:
        """Packages whose name, summary, keywords or categories match every word of `term`
        (stop words, plurals and typos forgiven: `search_rank`), best first.

        The search texts are matched whole; only hits are split into (light) SearchHit tuples.
        """
        from ecli.packages import search_rank

        query = search_rank.Query(term)
        rows: list[tuple[str, str, Source]] = []
        for source, lines, texts in self._readable():
            rows += zip(texts, lines, itertools.repeat(source))
        for typos in (False, True):  # typos only when the words as typed match nothing
            kept = query.keep(rows, typos)
            if kept:
                break
        ranked = []
        for order, (_text, line, source) in enumerate(kept):
            name, summary, kind, latest, keywords, _rest = line.split("\t", 5)
            ranked.append((query.rank(name, keywords, typos), source.priority, name, order,
                           SearchHit(source.name, name, summary, kind, latest or None)))
        ranked.sort()  # `order` breaks ties: hits are never compared
        return [hit[-1] for hit in ranked]

    def find(self, name: str) -> tuple[Source, model.PackageDocument]:
        """The package document of `name` from the first source that lists it (the name is
        each flattened line's first field: no entry is built to find one)."""
        known: list[str] = []
        for source, lines, _texts in self._readable():
            for line in lines:
                listed = line.partition("\t")[0]
                if listed == name:
                    return source, self.package(source, name)
                known.append(listed)
        from ecli.suggest import did_you_mean

        raise NotFoundError(
            f"no package named {name!r} in any source "
            f"({', '.join(s.name for s in self.require_sources())})",
            hint=did_you_mean(name, known)
            or "try 'ecli search', or 'ecli update' if the index is old",
        )

    def package(self, source: Source, name: str) -> model.PackageDocument:
        from ecli.hubindex import model
        from ecli.oci.config import NAME_PATTERN

        if not NAME_PATTERN.match(name):
            raise NotFoundError(f"{name!r} is not a valid package name")
        folder = self._folder(source)
        cached = folder / model.PACKAGES_DIR / f"{name}.json"
        try:  # another ecli's update may drop it between a check and a read
            return model.load_package(cached.read_bytes(), str(cached))
        except FileNotFoundError:
            pass
        if self.offline and source.is_remote:
            raise NotFoundError(f"{name}: its package document is not cached and --pull is never",
                                hint=f"run 'ecli info {name}' once while online")
        from ecli.packages import indextrust  # a document fetched is checked before it is kept

        root_path = folder / model.ROOT_FILE
        if not root_path.exists():
            self.update(source)
        root = model.load_root(root_path.read_bytes(), str(root_path))
        relative = root.packages.replace("{name}", name)
        with self._reader() as reader:
            raw = reader.fetch(source, relative, {},
                               indextrust.read_limit(root, relative)).body or b""
        indextrust.check_document(source, root, relative, raw)
        document = model.load_package(raw, _where(source, relative))
        if document.name != name:
            raise SourceError(f"{_where(source, relative)}: describes {document.name!r}, "
                              f"not {name!r}")
        write_atomic(cached, raw)
        return document

    @contextlib.contextmanager
    def _reader(self) -> Iterator[_Reader]:
        reader = _Reader(self.transport)
        try:
            yield reader
        finally:
            reader.close()

    def _folder(self, source: Source) -> Path:
        return self.paths.index_cache_dir / source.name

    def first_root(self, source: Source) -> indextrust.CheckedRoot:
        """The root of a source being added, checked against the key it pins, if any."""
        from ecli.hubindex import model
        from ecli.packages import indextrust

        with self._reader() as reader:
            raw = reader.fetch(source, model.ROOT_FILE, {}).body or b""
        return indextrust.check_root(source, raw, _where(source, model.ROOT_FILE), 0)

    def forget(self, name: str) -> None:
        """Drop source `name`'s cached index and the root version accepted from it: the
        source is being replaced (another URL, another key) or removed."""
        from ecli.packages import indextrust

        shutil.rmtree(self.paths.index_cache_dir / name, ignore_errors=True)
        indextrust.forget(self.paths.index_versions_file, name)

    @staticmethod
    def _meta(folder: Path) -> dict[str, dict[str, str]]:
        try:
            return json.loads((folder / META_FILE).read_bytes())
        except (OSError, ValueError):
            return {}


def _flat(text: str | None) -> str:
    return (text or "").replace("\t", " ").replace("\n", " ").replace("\r", " ").replace(
        _LIST, " ").replace("\x1e", " ")


def _write_entries(path: Path, catalog: model.Catalog) -> None:
    from ecli.packages import search_rank

    lines, texts = [_ENTRIES_HEADER], [_TEXTS]
    for e in catalog.packages:
        keywords, categories = tuple(map(_flat, e.keywords)), tuple(map(_flat, e.categories))
        lines.append("\t".join((
            _flat(e.name), _flat(e.summary), _flat(e.kind), _flat(e.latest),
            _LIST.join(keywords), _LIST.join(categories),
            _LIST.join(map(_flat, e.owners)), _flat(e.updated))) + "\n")
        texts.append(search_rank.search_text(_flat(e.name), _flat(e.summary), keywords,
                                             categories) + "\n")
    write_atomic(path, "".join(lines + texts).encode())


def _drop_unlisted(folder: Path, root: model.Root) -> None:
    """Drop cached package documents whose bytes a new root no longer lists (the catalog
    did not change, a package document may have): fetched again when asked for."""
    from ecli.packages import indextrust

    if not root.documents or not folder.is_dir():
        return
    for path in folder.glob("*.json"):
        if not indextrust.matches(root, root.packages.replace("{name}", path.stem), path):
            path.unlink(missing_ok=True)


def _where(source: Source, relative: str) -> str:
    return f"{source.location}{relative}" if source.is_remote else f"{source.location}/{relative}"


class _Reader:
    """Reads a source's documents: from its folder, or over HTTP through one transport
    (the client's, else an HTTPTransport opened on first use and closed after)."""

    def __init__(self, transport: Transport | None) -> None:
        self._given = transport
        self._opened: Transport | None = None

    def fetch(self, source: Source, relative: str, validators: dict[str, str],
              limit: int | None = None) -> Fetched:
        """The document at `relative`: at most `limit` (else any index document's limit)
        + 1 bytes of it (more is refused)."""
        if limit is None:
            from ecli.hubindex import model

            limit = model.MAX_DOCUMENT_BYTES
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
            from ecli.net.transport import HTTPTransport

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


@contextlib.contextmanager
def fetching(url: str, hint: str | None = None) -> Iterator[None]:
    """A failure below HTTP while fetching `url` as the one-line SourceError naming it."""
    try:
        yield
    except TransportError as exc:
        raise SourceError(f"{url}: {exc.message}", hint=hint) from None


def open_url(transport: Transport, url: str, headers: Mapping[str, str] | None = None, *,
             ok: tuple[int, ...] = (200,)) -> Response:
    """GET `url` (inside `fetching`); the response when its status is one of `ok`."""
    response = transport.request("GET", url, headers=headers)
    if response.status not in ok:
        response.close()
        raise SourceError(f"{url}: HTTP {response.status} {response.reason}".rstrip())
    return response
