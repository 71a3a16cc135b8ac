"""JSON documents: read with a size limit before any parsing, written from records.

Manifests, package configs and JSON indexes all arrive from somewhere ecli
does not control; each is refused when too large, not JSON or not an object,
with one line naming where it came from, in the error class of its caller.
Their records (named tuples) become JSON values through `plain`, one walk for
every format; each format's module keeps its own key order and spacing.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

from ecli.errors import EcliError


def load_object(raw: bytes, where: str, *, what: str, limit: int,
                error: type[EcliError]) -> dict[str, Any]:
    """The JSON object in `raw`; `error` naming `where` and `what` when it is not one."""
    if len(raw) > limit:
        raise error(f"{where}: {what} is larger than {_size(limit)}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{where}: {what} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise error(f"{where}: {what}: expected a JSON object")
    return data


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 and not limit % (1 << 20) else f"{limit} bytes"


def plain(value: Any) -> Any:
    """The JSON form of a value: a record (a named tuple, or a dataclass such as `ecli
    inspect`'s) becomes an object of its fields, less those in its class's `OMIT_NONE`
    that are None; tuples become lists. `dataclasses.asdict` without its deep copies
    (ten times faster at hub scale)."""
    kind = type(value)
    try:
        names = _FIELDS[kind]
    except KeyError:
        names = _FIELDS[kind] = _fields_of(kind)
    if names is not None:
        return {name: plain(item) for name, omit in names
                if (item := getattr(value, name)) is not None or not omit}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict | MappingProxyType):
        return {key: plain(item) for key, item in value.items()}
    return value


def _fields_of(kind: type) -> tuple[tuple[str, bool], ...] | None:
    """A record type's field names, each with whether `plain` leaves it out when None;
    None for a type that is not a record (checked first: named tuples are tuples too)."""
    if issubclass(kind, tuple) and hasattr(kind, "_fields"):
        names = kind._fields
    elif hasattr(kind, "__dataclass_fields__"):
        from dataclasses import fields  # imported already: a dataclass exists

        names = tuple(f.name for f in fields(kind))
    else:
        return None
    omitted = getattr(kind, "OMIT_NONE", frozenset())
    return tuple((name, name in omitted) for name in names)


_FIELDS: dict[type, tuple[tuple[str, bool], ...] | None] = {}  # type -> its _fields_of
