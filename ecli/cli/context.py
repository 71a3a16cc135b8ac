"""What every command handler receives: parsed global flags and paths."""

from __future__ import annotations

from typing import NamedTuple

from ecli.paths import Paths


class Context(NamedTuple):
    paths: Paths
    verbose: int = 0
    quiet: bool = False
