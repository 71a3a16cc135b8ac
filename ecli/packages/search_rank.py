"""How `ecli search` reads a query the way people type one.

"who killed my process" drops its stop words; "connections" finds "connection"
and "queries" "query" (plurals are forgiven); "biolatancy"
finds "biolatency" (a typo within `ecli.suggest`'s distance of a name or
keyword, the rule "did you mean" uses). Every remaining word must match; among
the hits, the exact name, then names the first word matches, then the packages
whose name and keywords hold more of the words come first.
"""

from __future__ import annotations

from ecli.suggest import edit_distance

STOP_WORDS = frozenset((
    "a", "an", "and", "are", "at", "by", "did", "do", "does", "for", "from", "how", "i", "in",
    "is", "it", "me", "my", "of", "on", "or", "the", "to", "what", "when", "where", "which",
    "who", "why", "with"))


def query_words(term: str) -> list[str]:
    """The words of `term` that carry meaning, lower-cased (all of them if all are stop words)."""
    words = term.lower().split()
    return [w for w in words if w not in STOP_WORDS] or words


def _typo_of(word: str, tokens: list[str]) -> bool:
    limit = max(1, len(word) // 3)
    return len(word) >= 5 and any(edit_distance(word, t, limit) <= limit for t in tokens)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"  # queries -> query
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def matches(word: str, text: str, tokens: list[str]) -> bool:
    """`word` is in `text`, or is a plural of something in it, or a typo of one of `tokens`."""
    return word in text or _singular(word) in text or _typo_of(word, tokens)


def rank(term: str, words: list[str], name: str, keywords: list[str]) -> tuple[int, int]:
    """Smaller first: (0 exact name, 1 name matches the first word, 2 other), then more words
    found in the name and keywords first."""
    if name == term:
        return 0, 0
    first = words[0] if words else ""
    named = bool(first) and (first in name or _typo_of(first, [name]))
    found = sum(any(w in k for k in [name, *keywords]) for w in words)
    return (1 if named else 2), -found
