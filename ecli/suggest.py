""""Did you mean": the nearest known names to one typed wrong.

One rule for commands and package names, as cargo and git apply it: compare
case-folded, by edit distance (insertions, deletions, substitutions and a
swap of two neighbours each cost one), and offer only names close enough that
the typo is the likely story: at most a third of the typed length, and at
least one edit. `Opensnoop` finds `opensnoop` (distance 0 once folded),
`opensnop` finds it too (one deletion); `xyz` finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

MOST = 3  # suggestions offered at once


def nearest(typed: str, known: Iterable[str]) -> list[str]:
    """Up to MOST names of `known` at the smallest distance from `typed` (as git does:
    a nearer name hides farther ones), in name order."""
    folded = typed.casefold()
    limit = max(1, len(folded) // 3)
    scored = []
    for name in set(known):
        distance = edit_distance(folded, name.casefold(), limit)
        if distance <= limit and name != typed:
            scored.append((distance, name))
    if not scored:
        return []
    best = min(distance for distance, _ in scored)
    return sorted(name for distance, name in scored if distance == best)[:MOST]


def did_you_mean(typed: str, known: Iterable[str]) -> str | None:
    """A hint naming the nearest names, or None when nothing is close."""
    names = nearest(typed, known)
    if not names:
        return None
    return "did you mean " + " or ".join(repr(name) for name in names) + "?"


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of `a` and `b`, or `limit + 1` once it exceeds `limit`.

    Rows are abandoned as soon as every cell passes the limit, so comparing a
    name against thousands of packages stays cheap.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] | None = None
    row = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, other in enumerate(b, 1):
            cost = 0 if char == other else 1
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if (before is not None and i > 1 and j > 1 and char == b[j - 2]
                    and a[i - 2] == other):
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]
