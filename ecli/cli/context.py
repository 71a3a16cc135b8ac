"""What every command handler receives: parsed global flags and paths."""

from __future__ import annotations

from dataclasses import dataclass

from ecli.paths import Paths


@dataclass(frozen=True)
class Context:
    paths: Paths
    verbose: int = 0
    quiet: bool = False
