"""How `ecli search` reads a query the way people type one.

"who killed my process" drops its stop words; "connections" finds "connection"
and "queries" "query", "killed" "kill" (plurals and past tenses are forgiven:
`stem`); "biolatancy" finds "biolatency"
(a typo within `ecli.suggest`'s distance of a package's name, the rule "did
you mean" uses; tried only when the words as typed match nothing, so the
common search stays a substring scan). Every remaining word must match; among
the hits, the exact name, then names the first word matches, then the packages
whose name and keywords hold more of the words come first.

Words are matched against a package's `search_text`, made once when its index is
cached: one lowercase line that starts with the package's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecli.suggest import edit_distance

STOP_WORDS = frozenset((
    "a", "an", "and", "are", "at", "by", "did", "do", "does", "for", "from", "how", "i", "in",
    "is", "it", "me", "my", "of", "on", "or", "the", "to", "what", "when", "where", "which",
    "who", "why", "with"))


def search_text(name: str, summary: str, keywords: Sequence[str],
                categories: Sequence[str]) -> str:
    """What a query's words are looked for in: name first (typos are tried against it)."""
    return " ".join((name, summary, *keywords, *categories)).lower()


class Query:
    """One search's words, read once: `matches` and `rank` run for every catalog line."""

    def __init__(self, term: str) -> None:
        self.term = term
        words = term.lower().split()
        self.words = [w for w in words if w not in STOP_WORDS] or words
        self._forms = [(w, stem(w)) for w in self.words]
        self._first = self.words[0] if self.words else ""

    def keep(self, rows: list[tuple[Any, ...]], typos: bool) -> list[tuple[Any, ...]]:
        """The rows (search_text, ...) that match: word by word, one list comprehension a
        word, when typos are not tried (the common case: no call per catalog line)."""
        if typos:
            return [row for row in rows
                    if self.matches(row[0], row[0].partition(" ")[0], True)]
        for word, plain in self._forms:
            if plain in word:  # "connections": "connection" in a text covers both
                rows = [row for row in rows if plain in row[0]]
            else:  # "queries" or "query"
                rows = [row for row in rows if word in row[0] or plain in row[0]]
        return rows

    def matches(self, text: str, name: str, typos: bool) -> bool:
        """Every word is in `text`, or its stem is (a plural or past tense), or (`typos`) a typo of
        the package's `name`. Typos cost an edit distance per package: search tries them
        only when nothing matched without."""
        return all(word in text or plain in text or (typos and _typo_of(word, name))
                   for word, plain in self._forms)

    def rank(self, name: str, keywords: str, typos: bool = False) -> tuple[int, int]:
        """Smaller first: (0 exact name, 1 name matches the first word, 2 other), then more
        words found in the name and `keywords` (as one string) first. A typo of the name
        counts as the name only for hits found through typos (`typos`)."""
        if name == self.term:
            return 0, 0
        first = self._first
        named = bool(first) and (first in name or (typos and _typo_of(first, name)))
        found = len([w for w in self.words if w in name or w in keywords])
        return (1 if named else 2), -found


def stem(word: str) -> str:
    """The word a plural or a past tense comes from ("queries" -> "query", "killed" ->
    "kill"); the hub's site search reads queries with it too (generator/search.py)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"  # queries -> query
    if len(word) > 5 and word.endswith("ed"):
        return word[:-2]  # killed -> kill, opened -> open (speed stays speed)
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def _typo_of(word: str, name: str) -> bool:
    limit = max(1, len(word) // 3)
    # Each edit changes at most two letters of the sets of letters: a cheap test first.
    return (len(word) >= 5 and len(set(word) ^ set(name)) <= 2 * limit
            and edit_distance(word, name, limit) <= limit)
