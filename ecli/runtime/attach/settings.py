"""What the user said about where to attach: plain data, built by option parsing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AttachSettings:
    """`--pid`, `--ifname`, `--cgroup`, `--freq`; the catalogue says which a hook needs."""

    pid: int | None = None
    ifname: str | None = None
    cgroup: str | None = None  # default: the root of the cgroup v2 hierarchy
    freq: int = 49
