"""What a user may type as a package target, parsed before anything is fetched.

    opensnoop                     NAME: newest version that is not yanked
    opensnoop@0.1.0               NAME@VERSION: exactly that version
    opensnoop@^0.1  @~1.2  @1.x   NAME@RANGE: newest non-yanked version in range
    opensnoop@sha256:HEX          NAME@DIGEST: the version with that digest
    ghcr.io/org/tool:1.0          an OCI reference by tag
    ghcr.io/org/tool@sha256:HEX   ... or by digest
    https://host/tool.bpf.o       a CO-RE object to download
    https://host/package.json     an eunomia-bpf JSON package to download
    https://host/tool.tar         an OCI image-layout archive to download
                                  (either may end in #sha256=HEX to pin it)
    ./tool.bpf.o  ./saved.tar     local files (./package.json: an eunomia-bpf package)
    ./project  ./layout           a package folder (build/oci) or an OCI layout
    -                             an eBPF object (or eunomia package) from standard input

A malformed target is a ReferenceError_ that says which part is wrong.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ecli import semver
from ecli.errors import ReferenceError_
from ecli.oci import reference as references
from ecli.oci.config import NAME_PATTERN
from ecli.text import control_characters

PATH = "path"
STDIN = "stdin"
URL = "url"
OCI = "oci"
NAME = "name"
_URL_PIN = re.compile(r"^sha256=([0-9a-f]{64})$")
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
EUNOMIA_SUFFIX = ".json"  # an eunomia-bpf package (package.json)
WASM_SUFFIX = ".wasm"  # a wasm-bpf module (kind wasm)


class Target(NamedTuple):
    kind: str  # PATH, STDIN, URL, OCI or NAME
    text: str
    name: str | None = None  # NAME: the package name
    selector: str | None = None  # NAME: version, range or digest after '@'
    oci: references.OciReference | None = None
    pinned_digest: str | None = None  # URL: from '#sha256=HEX'

    @property
    def is_archive(self) -> bool:
        return self.text.split("#", 1)[0].endswith(ARCHIVE_SUFFIXES)


def parse(text: str) -> Target:
    if not text or text != text.strip():
        raise ReferenceError_(f"{text!r}: a target cannot be empty or have surrounding spaces")
    if control_characters(text, multiline=False):
        raise ReferenceError_(f"{text!r}: a target cannot hold control characters")
    if text == "-":
        return Target(STDIN, text)
    if text.startswith("http://") or text.startswith("https://"):
        return _url(text)
    if "://" in text:
        raise ReferenceError_(f"{text!r}: only https:// and http:// URLs are supported",
                              hint="for a registry, write REGISTRY/REPOSITORY:TAG without a scheme")
    if is_path(text):
        return Target(PATH, text)
    if references.looks_like_oci(text):
        return Target(OCI, text, oci=references.parse(text))
    name, at, selector = text.partition("@")
    if not NAME_PATTERN.match(name):
        lower = name.lower()
        raise ReferenceError_(
            f"{text!r}: {name!r} is not a package name, an OCI reference or a path",
            hint=f"package names are lowercase: did you mean {lower!r}?"
            if NAME_PATTERN.match(lower) else
            "use NAME, NAME@VERSION, NAME@^RANGE, REGISTRY/REPO:TAG, https://... or ./path",
        )
    if at:
        check_selector(text, selector)
    return Target(NAME, text, name=name, selector=selector if at else None)


def check_selector(text: str, selector: str) -> None:
    if selector.startswith("sha256:"):
        references.check_digest(selector, text)
    elif not selector:
        raise ReferenceError_(f"{text!r}: nothing after '@'",
                              hint="write NAME@1.2.3, NAME@^1.2 or NAME@sha256:...")
    else:
        try:
            semver.parse_range(selector)
        except ReferenceError_ as exc:
            raise ReferenceError_(f"{text!r}: {exc.message}", hint=exc.hint) from None


def is_path(text: str) -> bool:
    """Paths start with / . ~ or end like a file ecli reads; NAMEs never contain '/'."""
    if text.startswith(("/", "./", "../", "~")) or text in (".", ".."):
        return True
    if text.endswith((".o", EUNOMIA_SUFFIX, WASM_SUFFIX, *ARCHIVE_SUFFIXES)):
        return True
    return "/" in text and not references.looks_like_oci(text)


def _url(text: str) -> Target:
    from urllib.parse import urlsplit

    url, _, fragment = text.partition("#")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ReferenceError_(f"{text!r}: the URL has no host")
    pinned = None
    if fragment:
        match = _URL_PIN.match(fragment)
        if not match:
            raise ReferenceError_(f"{text!r}: the fragment must be #sha256=<64 hex digits>")
        pinned = "sha256:" + match.group(1)
    if not parts.path.endswith((".o", EUNOMIA_SUFFIX, *ARCHIVE_SUFFIXES)):
        raise ReferenceError_(
            f"{text!r}: a URL target must name a .bpf.o, an eunomia package.json or an OCI "
            "archive (.tar, .tar.gz)")
    return Target(URL, url, pinned_digest=pinned)
