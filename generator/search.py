"""The site's search index: a small head, term shards and summary blocks.

A plain lunr index of 10,000 packages weighs 1.5 MB gzipped and takes half a
second to load; the search page must show results within 300 ms of loading
and answer every keystroke within 50 ms. So the index is split by what each
moment needs (shapes in docs/formats.md):

    search/index.json     head: every name, one flags integer per package
                          (kind, categories, architectures), the ranking
                          weights, the answer to every one-character query
                          (its first PAGE ids and its count), the shards in
                          the order the page prefetches them
    search/terms/X.json   the sorted terms starting with X (a-z, 0-9, `_` for
                          the rest), each with its postings `id * 4 + field`
    search/docs/N.json    summary and latest version of packages N*BLOCK..

The page fetches the head on load, then the shards one by one (the typed
character's first), and the summary blocks of the results it shows. A first
character typed before its shard has arrived is answered from the head, so no
keystroke waits for a fetch that the page could not have started earlier.
Field codes rank matches: 0 the whole name, 1 a part or suffix of the name,
2 a keyword or category, 3 a word of the summary.

The ranking has one definition, `rank` below, and its constants travel in the
head (`ranking`) so that the page scores with the same numbers; a browser test
checks that the page's own scoring of each shard gives the head's answers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ecli.hubindex import model
from ecli.oci.config import KINDS
from ecli.packages.search_rank import STOP_WORDS as QUERY_STOP_WORDS
from ecli.packages.search_rank import stem

BLOCK = 128
KIND_BITS = 3  # the low bits of a package's flags: its kind's index in KINDS (up to 8 kinds)
CATEGORIES = ("observability", "security", "networking", "performance", "profiling",
              "debugging", "storage", "scheduling", "containers", "other")
ARCHITECTURES = ("amd64", "arm64")
FIELD_NAME, FIELD_NAME_PART, FIELD_KEYWORD, FIELD_SUMMARY = range(4)
MIN_SUFFIX = 4
PAGE = 20  # results a search page shows at first; one-character answers carry this many
EXACT = (100, 40, 20, 8)  # score of a term equal to the query word, by field
PREFIX = (60, 25, 12, 4)  # score of a term the query word only begins
POPULAR_BONUS, POPULAR_STEP = 3, 100  # the i-th most popular package gets 3 - i / 100
_WORD = re.compile(r"[a-z0-9][a-z0-9+._-]*[a-z0-9+]|[a-z0-9]")
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "into", "is",
    "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "which", "with"))


QUERY_STOP_WORDS_ALL = STOP_WORDS | QUERY_STOP_WORDS  # what the page drops from a query


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
    bonus = [0.0] * len(entries)
    for i, doc in enumerate(ranks):
        bonus[doc] = POPULAR_BONUS - i / POPULAR_STEP
    names = [e.name for e in entries]
    first = {key: rank([shards[key]], key, bonus, names) for key in shards
             if key != "_" and key not in QUERY_STOP_WORDS_ALL}  # "a" is no query word
    head = {
        "schema_version": model.SCHEMA_VERSION,
        "count": len(entries),
        "block": BLOCK,
        "kinds": list(KINDS),
        "kind_bits": KIND_BITS,
        "categories": list(CATEGORIES),
        "architectures": list(ARCHITECTURES),
        "names": names,
        "flags": [flags(e) for e in entries],
        "popular": ranks,
        "ranking": {"exact": list(EXACT), "prefix": list(PREFIX), "min_part": MIN_SUFFIX,
                    "popular_bonus": POPULAR_BONUS, "popular_step": POPULAR_STEP},
        "stop_words": sorted(QUERY_STOP_WORDS_ALL),
        "first": {key: {"count": len(ids), "top": ids[:PAGE]} for key, ids in first.items()},
        "shards": sorted(shards, key=lambda k: (-_reach(shards[k]), k)),
    }
    blocks = [
        {"schema_version": model.SCHEMA_VERSION, "first": start,
         "docs": [[e.summary, e.latest or ""] for e in entries[start:start + BLOCK]]}
        for start in range(0, len(entries), BLOCK)
    ]
    return SearchFiles(head, shards, blocks)


def rank(shards: list[dict[str, Any]], word: str, bonus: list[float],
         names: list[str]) -> list[int]:
    """Ids of the packages matching one query word, best first.

    A package scores the best of its terms that begin with `word` or with its
    stem (`ecli search`'s rule: "connections" finds "connection", "killed"
    "kill"; EXACT when the term is one of the two, else PREFIX, by field), or
    of the parts of its name that `word` begins with ("connections" begins
    with tcpconnect's "connect": PREFIX), plus its popularity bonus;
    ties go to the shorter name, then the lower id. hub-search.js computes the
    same for any query (summing over words); the head carries this answer for
    every one-character word so the page can show it before the shard arrives.
    """
    best: dict[int, int] = {}
    forms = (word, stem(word))
    for shard in shards:
        for term, postings in zip(shard["terms"], shard["postings"], strict=True):
            if term.startswith(forms):
                weights = EXACT if term in forms else PREFIX
            elif MIN_SUFFIX <= len(term) < len(word) and word.startswith(term):
                weights = PREFIX
                postings = [p for p in postings if p & 3 <= FIELD_NAME_PART]
            else:
                continue
            for posting in postings:
                doc, score = posting >> 2, weights[posting & 3]
                if best.get(doc, 0) < score:
                    best[doc] = score
    return sorted(best, key=lambda d: (-(best[d] + bonus[d]), len(names[d]), d))


def words(text: str) -> list[str]:
    """Lower-case words of a summary, without stop words (the page splits queries alike)."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def shard_key(term: str) -> str:
    first = term[0]
    return first if "a" <= first <= "z" or "0" <= first <= "9" else "_"


def flags(entry: model.CatalogEntry) -> int:
    """Bits 0-2 kind, 3-12 categories, 13-14 architectures (both when unknown): the head's
    `kind_bits` and the lengths of its lists say where each starts, for the page."""
    value = KINDS.index(entry.kind) if entry.kind in KINDS else 0
    for i, category in enumerate(CATEGORIES):
        if category in entry.categories:
            value |= 1 << (KIND_BITS + i)
    architectures = entry.architectures or ARCHITECTURES
    for i, architecture in enumerate(ARCHITECTURES):
        if architecture in architectures:
            value |= 1 << (KIND_BITS + len(CATEGORIES) + i)
    return value


def _reach(shard: dict[str, Any]) -> int:
    """How many packages a shard's terms match: the page prefetches the widest first."""
    return len({posting >> 2 for postings in shard["postings"] for posting in postings})


def _ranks(entries: list[model.CatalogEntry], popularity: dict[str, int]) -> list[int]:
    """Ids of the 200 most popular packages, most popular first (empty without stats)."""
    known = [(count, doc) for doc, e in enumerate(entries)
             if (count := popularity.get(e.name, 0)) > 0]
    return [doc for _, doc in sorted(known, key=lambda p: (-p[0], p[1]))[:200]]
