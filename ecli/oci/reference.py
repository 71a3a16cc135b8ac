"""OCI references: `registry/repository[:tag][@sha256:digest]`.

The single parser of references. Follows the distribution grammar closely
enough to reject what a registry would: upper case repositories, empty
components, bad tags and malformed digests.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ecli.errors import ReferenceError_

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_HOST = re.compile(
    r"^(?:localhost|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+|"
    r"\[[0-9a-fA-F:]+\]|[A-Za-z0-9-]+)(?::[0-9]{1,5})?$"
)


class OciReference(NamedTuple):
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def name(self) -> str:
        """registry/repository, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def selector(self) -> str:
        """What to ask the registry for: the digest when known, else the tag."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> OciReference:
        return OciReference(self.registry, self.repository, self.tag, check_digest(digest))


def looks_like_oci(text: str) -> bool:
    """True when the first path component is a registry host (has '.', ':' or is localhost)."""
    first, slash, _ = text.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def parse(text: str) -> OciReference:
    """Parse a full reference; the registry part is required."""
    original = text
    if not text or any(c.isspace() for c in text):
        raise ReferenceError_(f"{original!r}: a reference cannot be empty or contain spaces")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        check_digest(digest, original)
    if not looks_like_oci(text):
        raise ReferenceError_(
            f"{original!r}: not a registry reference",
            hint="write it as REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. ghcr.io/org/tool:1.0",
        )
    registry, _, rest = text.partition("/")
    if not _HOST.match(registry):
        raise ReferenceError_(f"{original!r}: {registry!r} is not a valid registry host")
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            raise ReferenceError_(f"{original!r}: {tag!r} is not a valid tag")
    if not _REPOSITORY.match(rest):
        raise ReferenceError_(
            f"{original!r}: {rest!r} is not a valid repository name",
            hint="repositories are lower case: letters, digits and . _ - separated by /",
        )
    if tag is None and digest is None:
        tag = "latest"
    return OciReference(registry, rest, tag, digest)


def check_digest(digest: str, where: str | None = None) -> str:
    if not _DIGEST.match(digest):
        raise ReferenceError_(f"{where or digest!r}: {digest!r} is not a sha256 digest")
    return digest
