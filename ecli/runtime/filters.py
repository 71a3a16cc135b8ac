"""`--filter`: keep only the events and map rows whose fields match, as `ig run --filter`.

A filter is FIELD OP VALUE with OP one of `==`, `!=`, `~` (regular expression,
searched), `!~`, `<`, `>`, `<=`, `>=`; several filters must all match. They
are parsed once (`parse`, which checks the value and the expression) and
compiled once per column list (`predicate`) into one function over a decoded
row, which runs before the row is formatted: a field's decoded value, not its
presentation (`ret<0`, not `ret~ENOENT`). Numbers compare as numbers; anything
else as its text (an enum by name, a `char[]` as its string).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from ecli.errors import UsageError

_SYNTAX = re.compile(r"([A-Za-z_][\w.]*)\s*(==|!=|!~|<=|>=|~|<|>)(.*)", re.DOTALL)
_NUMERIC = ("<", ">", "<=", ">=")
Row = Sequence[Any]
Check = Callable[[Any], bool]


class Filter(NamedTuple):
    text: str  # as given, for messages
    field: str
    check: Check


def parse(text: str) -> Filter:
    """One `--filter` argument; a one-line UsageError naming it when it cannot match."""
    match = _SYNTAX.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--filter {text!r}: expected FIELD OP VALUE, OP one of "
                         "== != ~ !~ < > <= >= (e.g. comm==bash, pid>100)")
    field, op, value = match.groups()
    return Filter(text, field, _check(text, op, value))


def _check(text: str, op: str, value: str) -> Check:
    number = _number(value)
    if op in ("~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise UsageError(f"--filter {text!r}: bad regular expression: {exc}") from None
        if op == "~":
            return lambda v: pattern.search(str(v)) is not None
        return lambda v: pattern.search(str(v)) is None
    if op in _NUMERIC:
        if number is None:
            raise UsageError(f"--filter {text!r}: {value!r} is not a number")
        compare = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}[op]
        return lambda v: _is_number(v) and compare(v, number)

    def equal(v: Any) -> bool:
        if number is not None and _is_number(v):
            return bool(v == number)
        return str(v) == value

    return equal if op == "==" else (lambda v: not equal(v))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)


def _number(text: str) -> int | float | None:
    text = text.strip().lower()
    if text in ("true", "false"):
        return int(text == "true")
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def predicate(filters: Sequence[Filter], columns: Sequence[str]) -> Callable[[Row], bool] | None:
    """One function testing a row of `columns` against every filter naming one of them;
    None when no filter does (the rows are all kept, at no cost)."""
    checks = [(columns.index(f.field), f.check) for f in filters if f.field in columns]
    if not checks:
        return None
    if len(checks) == 1:
        ((at, check),) = checks
        return lambda row: check(row[at])
    return lambda row: all(check(row[at]) for at, check in checks)


def check_fields(filters: Sequence[Filter], fields_of: Mapping[str, Sequence[str]]) -> None:
    """Every filter must name a field of some event type or map (`fields_of`: what -> its
    fields); one that names none is a one-line error listing them."""
    known = {field for fields in fields_of.values() for field in fields}
    for f in filters:
        if f.field not in known:
            listing = "; ".join(f"{what}: {', '.join(fields)}"
                                for what, fields in fields_of.items()) or "none"
            raise UsageError(f"--filter {f.text!r}: no field {f.field!r} (fields: {listing})")


class FilteredDecoder:
    """Decodes, then keeps an event only if the filters match, before any formatting:
    `decode` returns None for one they drop, `decode_batch` leaves it out."""

    def __init__(self, decoder: Any, keep: Callable[[Row], bool]) -> None:
        self.decoder = decoder
        self.columns = decoder.columns
        self.widths = decoder.widths
        self.types = decoder.types
        self._keep = keep

    def decode(self, data: bytes | memoryview) -> list[Any] | None:
        values = self.decoder.decode(data)
        return values if self._keep(values) else None

    def decode_batch(self, batch: Any) -> list[list[Any]]:
        columns = self.decoder.decode_batch(batch)
        kept = [row for row in zip(*columns, strict=True) if self._keep(list(row))]
        if len(kept) == len(columns[0]):
            return columns
        return [list(column) for column in zip(*kept, strict=True)] if kept \
            else [[] for _ in columns]
