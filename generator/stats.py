"""The optional stats file behind the home page's "Popular" section.

    {"schema_version": 1, "downloads": {"opensnoop": 1234, ...}}

The publish workflow fetches it from wherever download counts are kept (the
hub itself has no server); without it the section is simply not shown. A
malformed file is an error rather than a silently empty section.
"""

from __future__ import annotations

import json
from pathlib import Path

from generator.problems import GeneratorError, Problem

SCHEMA_VERSION = 1


def read(path: Path) -> dict[str, int]:
    """Download counts by package name; {} when the file does not exist."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(path, f"cannot read the stats file ({exc})") from None
    downloads = data.get("downloads") if isinstance(data, dict) else None
    if (not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION
            or not isinstance(downloads, dict)
            or not all(isinstance(k, str) and type(v) is int and v >= 0
                       for k, v in downloads.items())):
        raise _error(path, 'expected {"schema_version": 1, "downloads": {NAME: COUNT}}')
    return downloads


def _error(path: Path, message: str) -> GeneratorError:
    return GeneratorError([Problem(str(path), 1, 1, "", message, code="stats",
                                   hint="fix or remove the --stats file")])
