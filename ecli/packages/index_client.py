"""Look up the JSON indexes of the configured sources, from their cache.

`update` fetches each source's root and catalog, conditionally (ETag and
Last-Modified), and stores them atomically under the cache; lookups work
from that cache, offline. Per-package documents are fetched only when a
package is asked for, and dropped by the next `update` that changes the
catalog, so a sparse client stays current. The fetching, checking and
storing is `ecli.packages.index_update`'s, which `IndexClient` delegates to.

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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ecli.errors import NotFoundError, SourceError, TransportError
from ecli.files import write_atomic
from ecli.packages.sources import Source, load
from ecli.paths import Paths

if TYPE_CHECKING:
    from ecli.hubindex import model
    from ecli.net.base import Response, Transport
    from ecli.packages import indextrust

# `ecli search` reads only ENTRIES_FILE: the index model (its import costs a fifth of the
# search's time) is imported by the methods that use it, and the update machinery
# (`index_update`, with the trust checks) only when something is fetched. `ecli run NAME`
# finds a name and reads its cached document: the search ranking and the suggestions are
# imported lazily too.

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

    # -- update: fetching, checking and storing (index_update) ---------------

    def update_or_cached(self, source: Source, *, force: bool = False) -> UpdateResult:
        """`update`, or the cached catalog with the reason and its age when fetching fails."""
        from ecli.packages import index_update

        return index_update.update_or_cached(self, source, force=force)

    def update(self, source: Source, *, force: bool = False) -> UpdateResult:
        """Fetch `source`'s root and, when it changed, its catalog; `force`: every
        document again, with no validators and no cached copy trusted."""
        from ecli.packages import index_update

        return index_update.update(self, source, force=force)

    def first_root(self, source: Source) -> indextrust.CheckedRoot:
        """The root of a source being added, checked against the key it pins, if any."""
        from ecli.packages import index_update

        return index_update.first_root(self, source)

    def forget(self, name: str) -> None:
        """Drop source `name`'s cached index and the root version accepted from it: the
        source is being replaced (another URL, another key) or removed."""
        from ecli.packages import index_update

        index_update.forget(self.paths, name)

    # -- lookups --------------------------------------------------------------

    def catalog(self, source: Source) -> model.Catalog:
        from ecli.hubindex import model

        path = self.folder(source) / model.CATALOG_FILE
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
                lines, texts = self.source_lines(source)
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

    def source_lines(self, source: Source) -> tuple[list[str], list[str]]:
        """The source's catalog as flattened lines and their search texts (`ENTRIES_FILE`,
        written by `update`).

        Reading 10,000 entries this way takes milliseconds, against a quarter
        of a second for checking the catalog's JSON field by field again.
        """
        path = self.folder(source) / ENTRIES_FILE
        try:  # bytes decoded at once: read_text's newline translation costs more than the search
            lines, found, texts = path.read_bytes().decode().partition(_TEXTS)
        except (FileNotFoundError, UnicodeDecodeError):
            lines, found, texts = "", "", ""
        # "\n" only: splitlines() would also split at \x85, \x1c-\x1e or U+2028 in a summary
        entries, searched = lines.split("\n")[1:-1], texts.split("\n")[:-1]
        if not (found and lines.startswith(_ENTRIES_HEADER)) or len(entries) != len(searched):
            write_entries(path, self.catalog(source))  # an older ecli's, or cut short
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
        cached = self.folder(source) / model.PACKAGES_DIR / f"{name}.json"
        try:  # another ecli's update may drop it between a check and a read
            return model.load_package(cached.read_bytes(), str(cached))
        except FileNotFoundError:
            pass
        if self.offline and source.is_remote:
            raise NotFoundError(f"{name}: its package document is not cached and --pull is never",
                                hint=f"run 'ecli info {name}' once while online")
        from ecli.packages import index_update  # fetched: checked before it is kept

        return index_update.fetch_package(self, source, name, cached)

    def folder(self, source: Source) -> Path:
        """Where `source`'s index is cached."""
        return self.paths.index_cache_dir / source.name


def _flat(text: str | None) -> str:
    return (text or "").replace("\t", " ").replace("\n", " ").replace("\r", " ").replace(
        _LIST, " ").replace("\x1e", " ")


def write_entries(path: Path, catalog: model.Catalog) -> None:
    """Flatten a checked catalog into `ENTRIES_FILE` (written by an update, rewritten by a
    lookup that finds it missing or an older ecli's)."""
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
