"""Semantic versions: the one owner of their grammar, order and ranges.

Two grammars, two entry points, one `Version` and one order:

  * `parse_published`: strict SemVer 2.0 (`MAJOR.MINOR.PATCH`, no leading
    zeros, no `v`), the only form an index entry may publish; the generator
    checks and orders entries with it.
  * `parse_version` and `parse_range`: what a user may type after `NAME@`,
    forgiving on purpose (`v1.2` is `1.2.0`).

Small on purpose (no dependency): pre-releases sort before their release,
build metadata is ignored (SemVer 2.0 §10), and the range syntax is the one
people know from npm and cargo:

    1.2.3  =1.2.3            exactly that version
    ^1.2   ^0.3.1            compatible: same left-most non-zero part
    ~1.2   ~1.2.3            same major.minor
    1.2.x  1.*  *            wildcards
    >=1.2 <2  >1.0, <=1.4    comparisons, all must hold (space or comma)
    ^1 || ^2                 either side

A range never matches a pre-release unless the range names a pre-release of
that same MAJOR.MINOR.PATCH, as in npm: `^1.2` does not pick `1.3.0-rc.1`, and
`^1.2.0-rc.1` picks `1.2.0-rc.2` but not `1.3.0-rc.1`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from ecli.errors import ReferenceError_

_VERSION = re.compile(
    r"^v?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)
_IDENTIFIER = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
# A pattern, compiled (through re's cache) by the first `parse_published`: the generator's,
# not `ecli run`'s, which would pay for compiling it at import.
_PUBLISHED = (
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    rf"(?:-({_IDENTIFIER}(?:\.{_IDENTIFIER})*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_PARTIAL = re.compile(r"^v?([0-9]+|[xX*])(?:\.([0-9]+|[xX*]))?(?:\.([0-9]+|[xX*]))?"
                      r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_COMPARATOR = re.compile(r"^(\^|~|>=|<=|>|<|=)?\s*(.+)$")


class Version(NamedTuple):
    """A version; ordered by `key` (a tuple's own order would put a release before its
    pre-releases), so every comparison is defined here, not inherited from tuple."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, ...] = ()

    def key(self) -> tuple:
        # A release sorts after its pre-releases; numeric identifiers before alphanumeric.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def __lt__(self, other: Version) -> bool:  # type: ignore[override]
        return self.key() < other.key()

    def __le__(self, other: Version) -> bool:  # type: ignore[override]
        return self.key() <= other.key()

    def __gt__(self, other: Version) -> bool:  # type: ignore[override]
        return self.key() > other.key()

    def __ge__(self, other: Version) -> bool:  # type: ignore[override]
        return self.key() >= other.key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}-{'.'.join(self.pre)}" if self.pre else text


def parse_version(text: str) -> Version | None:
    """A version as a user may write it (`v1.2` is 1.2.0); None when `text` is not one."""
    return _version(_VERSION.match(text.strip()))


def parse_published(text: str) -> Version | None:
    """A version as an index publishes it: strict SemVer 2.0, nothing around it; else None."""
    return _version(re.fullmatch(_PUBLISHED, text))


def _version(match: re.Match[str] | None) -> Version | None:
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    return Version(int(major), int(minor or 0), int(patch or 0),
                   tuple(pre.split(".")) if pre else ())


def is_version(text: str) -> bool:
    return parse_version(text) is not None


Predicate = Callable[[Version], bool]


class Range(NamedTuple):
    text: str
    alternatives: tuple[tuple[Predicate, ...], ...]
    pre_releases: frozenset[tuple[int, int, int]]  # MAJOR.MINOR.PATCH the range names a -pre of

    def matches(self, version: Version) -> bool:
        if version.pre and (version.major, version.minor, version.patch) not in self.pre_releases:
            return False
        return any(all(p(version) for p in alt) for alt in self.alternatives)

    def best(self, candidates: Iterable[str]) -> str | None:
        """The highest of `candidates` (version strings) in the range."""
        parsed = [(v, text) for text in candidates if (v := parse_version(text))]
        fitting = [(v, text) for v, text in parsed if self.matches(v)]
        return max(fitting, key=lambda item: item[0].key())[1] if fitting else None


def parse_range(text: str) -> Range:
    """Parse a range; a malformed one is a ReferenceError_ naming the bad part."""
    if not text.strip():
        raise ReferenceError_("an empty version range")
    alternatives = []
    pre_releases = set()
    for alternative in text.split("||"):
        parts = [p for p in re.split(r"[\s,]+", _join_operators(alternative.strip())) if p]
        if not parts:
            raise ReferenceError_(f"{text!r}: an empty alternative in the version range")
        comparators = [_comparator(part, text) for part in parts]
        alternatives.append(tuple(predicate for predicate, _ in comparators))
        pre_releases |= {(low.major, low.minor, low.patch) for _, low in comparators if low.pre}
    return Range(text, tuple(alternatives), frozenset(pre_releases))


def _join_operators(text: str) -> str:
    """`>= 1.2` → `>=1.2`, so splitting on spaces keeps operator and version together."""
    return re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", text)


def _comparator(part: str, whole: str) -> tuple[Predicate, Version]:
    """The test one comparator makes, and the lowest version it names."""
    match = _COMPARATOR.match(part)
    assert match is not None
    operator, operand = match.group(1) or "", match.group(2)
    partial = _PARTIAL.match(operand)
    if not partial:
        where = f"{whole!r}: " if whole != part else ""
        raise ReferenceError_(f"{where}{part!r} is not a version or range",
                              hint="write e.g. 1.2.3, ^1.2, ~1.2.3, >=1.0 <2, 1.x")
    raw = [g for g in partial.groups()[:3]]
    pre = tuple(partial.group(4).split(".")) if partial.group(4) else ()
    known = []
    for value in raw:
        if value is None or value in "xX*":
            break
        known.append(int(value))
    low = Version(*(known + [0] * (3 - len(known))), pre)  # type: ignore[arg-type]
    return _predicate(operator, known, low), low


def _predicate(operator: str, known: list[int], low: Version) -> Predicate:
    if operator in ("", "=") and len(known) == 3:
        return lambda v: v.key()[:4] == low.key()[:4] and v.pre == low.pre
    if operator in ("", "="):
        return _between(low, _bump(known, len(known) - 1) if known else None)
    if operator == "^":
        first_nonzero = next((i for i, n in enumerate(known) if n), len(known) - 1)
        return _between(low, _bump(known, max(first_nonzero, 0)) if known else None)
    if operator == "~":
        return _between(low, _bump(known, 0 if len(known) == 1 else 1) if known else None)
    if operator == ">=":
        return lambda v: low <= v
    if operator == ">":
        upper = _bump(known, len(known) - 1) if 0 < len(known) < 3 else None
        return (lambda v: upper <= v) if upper else (lambda v: low < v)
    if operator == "<":
        return lambda v: v < low
    # "<=": with a partial version, everything up to the end of that series.
    upper = _bump(known, len(known) - 1) if 0 < len(known) < 3 else None
    return (lambda v: v < upper) if upper else (lambda v: v <= low)


def _bump(known: list[int], position: int) -> Version:
    """The first version past the series `known[:position+1]`."""
    parts = known[: position + 1] + [0] * (3 - position - 1)
    parts[position] += 1
    return Version(parts[0], parts[1], parts[2], ("0",))  # below every release of that series


def _between(low: Version, high: Version | None) -> Predicate:
    if high is None:
        return lambda v: True
    return lambda v: low <= v and v < high
