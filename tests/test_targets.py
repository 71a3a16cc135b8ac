"""ecli.packages.targets: what a user may type as a target, parsed before anything is fetched."""

from __future__ import annotations

import pytest

from ecli.errors import ReferenceError_
from ecli.packages import targets
from ecli.packages.targets import NAME, OCI, PATH, URL

HEX = "ab" * 32


@pytest.mark.parametrize(("text", "name", "selector"), [
    ("opensnoop", "opensnoop", None),
    ("open-snoop2", "open-snoop2", None),
    ("opensnoop@0.1.0", "opensnoop", "0.1.0"),
    ("opensnoop@v0.1", "opensnoop", "v0.1"),
    ("opensnoop@^0.1", "opensnoop", "^0.1"),
    ("opensnoop@~1.2", "opensnoop", "~1.2"),
    ("opensnoop@1.x", "opensnoop", "1.x"),
    ("opensnoop@>=1.0 <2", "opensnoop", ">=1.0 <2"),
    (f"opensnoop@sha256:{HEX}", "opensnoop", f"sha256:{HEX}"),
])
def test_names_with_a_version_range_or_digest(text: str, name: str, selector: str | None):
    target = targets.parse(text)
    assert (target.kind, target.name, target.selector, target.oci) == (NAME, name, selector, None)


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), [
    ("ghcr.io/org/tool:1.0", "ghcr.io", "org/tool", "1.0", None),
    (f"ghcr.io/org/tool@sha256:{HEX}", "ghcr.io", "org/tool", None, f"sha256:{HEX}"),
    ("ghcr.io/org/tool", "ghcr.io", "org/tool", "latest", None),
    ("localhost:5000/tool:1", "localhost:5000", "tool", "1", None),
    ("127.0.0.1:5000/a/b/c:v2", "127.0.0.1:5000", "a/b/c", "v2", None),
])
def test_oci_references_by_tag_or_digest(text: str, registry: str, repository: str,
                                         tag: str | None, digest: str | None):
    target = targets.parse(text)
    assert target.kind == OCI and target.name is None and target.oci is not None
    assert (target.oci.registry, target.oci.repository) == (registry, repository)
    assert (target.oci.tag, target.oci.digest) == (tag, digest)


@pytest.mark.parametrize(("text", "url", "pinned", "archive"), [
    ("https://example.com/tool.bpf.o", "https://example.com/tool.bpf.o", None, False),
    ("http://example.com/x/saved.tar", "http://example.com/x/saved.tar", None, True),
    ("https://example.com/a.tar.gz", "https://example.com/a.tar.gz", None, True),
    (f"https://example.com/a.tgz#sha256={HEX}", "https://example.com/a.tgz", f"sha256:{HEX}",
     True),
])
def test_urls_with_an_optional_pin(text: str, url: str, pinned: str | None, archive: bool):
    target = targets.parse(text)
    assert (target.kind, target.text, target.pinned_digest, target.is_archive) == (
        URL, url, pinned, archive)


@pytest.mark.parametrize("text", ["./tool.bpf.o", "tool.bpf.o", "/abs/tool", "saved.tar",
                                  "layout.tar.gz", ".", "..", "~/project", "../up",
                                  "org/tool", "a/b/c"])
def test_paths(text: str):
    target = targets.parse(text)
    assert (target.kind, target.text, target.name) == (PATH, text, None)


@pytest.mark.parametrize(("text", "message"), [
    ("", "'': a target cannot be empty or have surrounding spaces"),
    (" opensnoop", "' opensnoop': a target cannot be empty or have surrounding spaces"),
    ("opensnoop\n", "'opensnoop\\n': a target cannot be empty or have surrounding spaces"),
    ("open\x00snoop", "'open\\x00snoop': a target cannot hold control characters"),
    ("open\x1b[31msnoop", "'open\\x1b[31msnoop': a target cannot hold control characters"),
    ("open\u202esnoop", "'open\\u202esnoop': a target cannot hold control characters"),
    ("ftp://example.com/x.o", "'ftp://example.com/x.o': only https:// and http:// URLs are "
     "supported"),
    ("https:///x.bpf.o", "'https:///x.bpf.o': the URL has no host"),
    ("https://example.com/x.txt", "'https://example.com/x.txt': a URL target must name a .bpf.o, "
     "an eunomia package.json or an OCI archive (.tar, .tar.gz)"),
    ("https://example.com/x.o#md5=00", "'https://example.com/x.o#md5=00': the fragment must be "
     "#sha256=<64 hex digits>"),
    ("https://example.com/x.o#sha256=zz", "'https://example.com/x.o#sha256=zz': the fragment "
     "must be #sha256=<64 hex digits>"),
    ("OpenSnoop", "'OpenSnoop': 'OpenSnoop' is not a package name, an OCI reference or a path"),
    ("open_snoop", "'open_snoop': 'open_snoop' is not a package name, an OCI reference or a "
     "path"),
    ("-x", "'-x': '-x' is not a package name, an OCI reference or a path"),
    ("opensnoop@", "'opensnoop@': nothing after '@'"),
    ("opensnoop@latest", "'opensnoop@latest': 'latest' is not a version or range"),
    ("opensnoop@1.2.3.4", "'opensnoop@1.2.3.4': '1.2.3.4' is not a version or range"),
    ("a@b@c", "'a@b@c': 'b@c' is not a version or range"),
    ("opensnoop@sha256:abc", "'opensnoop@sha256:abc': 'sha256:abc' is not a sha256 digest"),
    ("ghcr.io/Org/tool:1", "'ghcr.io/Org/tool:1': 'Org/tool' is not a valid repository name"),
])
def test_a_bad_target_is_one_error_naming_what_is_wrong(text: str, message: str):
    with pytest.raises(ReferenceError_) as caught:
        targets.parse(text)
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.message
