"""SPDX license expressions: every identifier must be on the SPDX list.

The schema only checks the shape (`A OR (B AND C) WITH X`); this module knows
the identifiers (spdx_ids.txt beside it) so that `GPL2` or `Apache 2` is
refused with the right spelling suggested. `LicenseRef-...` is allowed, as
SPDX allows it for licenses not on the list. Matching ignores case, as SPDX
says, but the hint gives the canonical spelling.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
OPERATORS = {"AND", "OR", "WITH"}


@cache
def identifiers() -> tuple[dict[str, str], dict[str, str]]:
    """(licenses, exceptions), each lower-case id -> canonical spelling."""
    licenses: dict[str, str] = {}
    exceptions: dict[str, str] = {}
    table = licenses
    for line in (Path(__file__).with_name("spdx_ids.txt")).read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if line in ("[licenses]", "[exceptions]"):
            table = licenses if line == "[licenses]" else exceptions
            continue
        table[line.lower()] = line
    return licenses, exceptions


def unknown(expression: str) -> list[tuple[str, str | None]]:
    """Identifiers of `expression` not on the SPDX list, each with a suggestion (or None)."""
    licenses, exceptions = identifiers()
    problems = []
    after_with = False
    for token in _TOKEN.findall(expression):
        if token in ("(", ")"):
            continue
        if token in OPERATORS:
            after_with = token == "WITH"
            continue
        table = exceptions if after_with else licenses
        after_with = False
        bare = token.removesuffix("+")
        if token.startswith("LicenseRef-") or bare.lower() in table:
            if bare.lower() in table and table[bare.lower()] != bare:
                problems.append((token, table[bare.lower()]))  # wrong case: say the spelling
            continue
        close = difflib.get_close_matches(bare.lower(), list(table), n=1, cutoff=0.6)
        problems.append((token, table[close[0]] if close else None))
    return problems
