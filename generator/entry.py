"""The in-memory form of a valid index entry.

Built only from documents that passed validation, so every field has its
checked type; the rest of the generator (resolve, emit, pages) reads these
and never the raw YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecli.oci.reference import OciReference


@dataclass(frozen=True)
class EntryVersion:
    version: str
    ref: str
    reference: OciReference
    yanked: str | None = None
    requirements: dict[str, Any] = field(default_factory=dict)
    line: int = 1  # where `ref` is written, for problems found after validation
    col: int = 1


@dataclass(frozen=True)
class Entry:
    name: str
    file: str
    summary: str
    kind: str
    owners: tuple[str, ...]
    license: str
    description: str = ""
    example: str = ""  # captured output of a run, with its command lines ("$ ...")
    homepage: str | None = None
    source: str | None = None
    keywords: tuple[str, ...] = ()
    test: dict[str, Any] | None = None  # how to prove it works (generator/pkgtest.py)
    categories: tuple[str, ...] = ()
    versions: tuple[EntryVersion, ...] = ()  # newest first
    signer_key: str | None = None  # PEM public key every version must be signed with
    signer_identity: str | None = None  # or keyless: the certificate identity ...
    signer_issuer: str | None = None  # ... and its OIDC issuer
    name_line: int = 1  # where `name` is written, for cross-entry problems
    name_col: int = 1

    @property
    def signed(self) -> bool:
        """The entry declares a signer (a key, or an identity and issuer)."""
        return self.signer_key is not None or self.signer_identity is not None

    @property
    def latest(self) -> EntryVersion | None:
        """The newest version that is not yanked."""
        return next((v for v in self.versions if not v.yanked), None)


@dataclass(frozen=True)
class Index:
    """Every valid entry of an index, by name, and the featured names."""

    entries: dict[str, Entry]
    featured: tuple[str, ...] = ()
