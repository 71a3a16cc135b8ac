"""Semantic versions: parsing and precedence, enough to order and compare versions.

The schema checks the syntax; this module orders versions newest first (the
JSON index promises that order) and decides when two spellings are the same
version (build metadata does not count, per semver 2.0.0 §10).
"""

from __future__ import annotations

import re

PATTERN = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)

Key = tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]


def is_valid(text: str) -> bool:
    return bool(PATTERN.match(text))


def key(text: str) -> Key:
    """A sort key for precedence: releases after their pre-releases, build ignored."""
    match = PATTERN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a semantic version")
    major, minor, patch, pre, _build = match.groups()
    if pre is None:
        return int(major), int(minor), int(patch), 1, ()
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return int(major), int(minor), int(patch), 0, parts
