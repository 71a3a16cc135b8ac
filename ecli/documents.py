"""JSON documents from outside, read with a size limit before any parsing.

Manifests, package configs and JSON indexes all arrive from somewhere ecli
does not control; each is refused when too large, not JSON or not an object,
with one line naming where it came from, in the error class of its caller.
"""

from __future__ import annotations

import json
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
