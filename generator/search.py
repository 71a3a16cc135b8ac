"""The site's search index: a small head, term shards and summary blocks.

A plain lunr index of 10,000 packages weighs 1.5 MB gzipped and takes half a
second to load; the search page must show results within 300 ms of loading
and answer every keystroke within 50 ms. So the index is split by what each
moment needs (shapes in docs/formats.md):

    search/index.json     head: every name, one flags integer per package
                          (kind, categories, architectures), which shards exist
    search/terms/X.json   the sorted terms starting with X (a-z, 0-9, `_` for
                          the rest), each with its postings `id * 4 + field`
    search/docs/N.json    summary and latest version of packages N*BLOCK..

The page fetches the head on load, one shard on the first keystroke of a word
that starts with a new character, and the summary blocks of the results it
shows. Field codes rank matches: 0 the whole name, 1 a part or suffix of the
name, 2 a keyword or category, 3 a word of the summary.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ecli.hubindex import model

BLOCK = 128
KINDS = ("bpf", "bundle", "image")
CATEGORIES = ("observability", "security", "networking", "performance", "profiling",
              "debugging", "storage", "scheduling", "containers", "other")
ARCHITECTURES = ("amd64", "arm64")
FIELD_NAME, FIELD_NAME_PART, FIELD_KEYWORD, FIELD_SUMMARY = range(4)
MIN_SUFFIX = 4
_WORD = re.compile(r"[a-z0-9][a-z0-9+._-]*[a-z0-9+]|[a-z0-9]")
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "into", "is",
    "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "which", "with"))


@dataclass(frozen=True)
class SearchFiles:
    """Every file of the index, by path under api/v1/search/, ready to write."""

    head: dict[str, Any]
    shards: dict[str, dict[str, Any]]
    blocks: list[dict[str, Any]]


def build(catalog: model.Catalog, popularity: dict[str, int] | None = None) -> SearchFiles:
    """Index the catalog (sorted by name: a package's id is its position)."""
    entries = sorted(catalog.packages, key=lambda e: e.name)
    best: dict[str, dict[int, int]] = defaultdict(dict)  # term -> id -> best field

    def add(term: str, doc: int, field: int) -> None:
        postings = best[term]
        if postings.get(doc, 9) > field:
            postings[doc] = field

    for doc, entry in enumerate(entries):
        add(entry.name, doc, FIELD_NAME)
        for part in entry.name.split("-"):
            if part != entry.name:
                add(part, doc, FIELD_NAME_PART)
        for start in range(1, len(entry.name) - MIN_SUFFIX + 1):
            suffix = entry.name[start:].lstrip("-")
            if len(suffix) >= MIN_SUFFIX:
                add(suffix, doc, FIELD_NAME_PART)
        for word in (*entry.keywords, *entry.categories):
            add(word, doc, FIELD_KEYWORD)
        for word in words(entry.summary):
            add(word, doc, FIELD_SUMMARY)
    grouped: dict[str, list[str]] = defaultdict(list)
    for term in sorted(best):
        grouped[shard_key(term)].append(term)
    shards = {
        key: {"schema_version": model.SCHEMA_VERSION, "terms": terms,
              "postings": [sorted(doc * 4 + field for doc, field in best[t].items())
                           for t in terms]}
        for key, terms in grouped.items()
    }
    ranks = _ranks(entries, popularity or {})
    head = {
        "schema_version": model.SCHEMA_VERSION,
        "count": len(entries),
        "block": BLOCK,
        "kinds": list(KINDS),
        "categories": list(CATEGORIES),
        "architectures": list(ARCHITECTURES),
        "names": [e.name for e in entries],
        "flags": [flags(e) for e in entries],
        "popular": ranks,
        "shards": sorted(shards),
    }
    blocks = [
        {"schema_version": model.SCHEMA_VERSION, "first": start,
         "docs": [[e.summary, e.latest or ""] for e in entries[start:start + BLOCK]]}
        for start in range(0, len(entries), BLOCK)
    ]
    return SearchFiles(head, shards, blocks)


def words(text: str) -> list[str]:
    """Lower-case words of a summary, without stop words (the page splits queries alike)."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def shard_key(term: str) -> str:
    first = term[0]
    return first if "a" <= first <= "z" or "0" <= first <= "9" else "_"


def flags(entry: model.CatalogEntry) -> int:
    """Bits 0-1 kind, 2-11 categories, 12-13 architectures (both when unknown)."""
    value = KINDS.index(entry.kind) if entry.kind in KINDS else 0
    for i, category in enumerate(CATEGORIES):
        if category in entry.categories:
            value |= 1 << (2 + i)
    architectures = entry.architectures or ARCHITECTURES
    for i, architecture in enumerate(ARCHITECTURES):
        if architecture in architectures:
            value |= 1 << (12 + i)
    return value


def _ranks(entries: list[model.CatalogEntry], popularity: dict[str, int]) -> list[int]:
    """Ids of the 200 most popular packages, most popular first (empty without stats)."""
    known = [(count, doc) for doc, e in enumerate(entries)
             if (count := popularity.get(e.name, 0)) > 0]
    return [doc for _, doc in sorted(known, key=lambda p: (-p[0], p[1]))[:200]]
