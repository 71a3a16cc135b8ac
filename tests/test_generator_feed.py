"""feed.xml stays well-formed XML whatever an entry holds, even one validation never saw.

The feed writer is called directly, so nothing upstream (the schema, the
control-character rule) can have cleaned the strings first.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest
from test_site_xss import PAYLOADS

from ecli.hubindex import model
from generator import feed

ATOM = "{http://www.w3.org/2005/Atom}"
# Every character XML 1.0 forbids even as a reference, and some it allows but a
# reader should not be tricked by: C1, bidi overrides, markup and quotes.
FORBIDDEN = ("".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")
             + "\ud800\udfff\ufffe\uffff")
HOSTILE = [
    FORBIDDEN,
    "\x1b[2J\x1b]0;title\x07 clears the screen",
    "\x7f\x85\x9b31m C1 \u202e\u2066\u200f\u061c bidi",
    "]]></summary><entry><title>forged</title></entry><summary>",
    "\"' onload=\"x\" &amp; &#0; &#x1b; <!-- --> <?pi?>",
]


def _document(name: str, text: str) -> model.PackageDocument:
    version = model.Version(version=f"1.0.0-{text}", ref=f"ghcr.io/a/{name}:{text}",
                            repository=f"ghcr.io/a/{text}", digest=f"sha256:{text}",
                            published=f"2026-01-01T00:00:00Z{text}")
    return model.PackageDocument(schema_version=model.SCHEMA_VERSION, name=f"{name}{text}",
                                 summary=text, kind="bpf", versions=(version,))


def _parse(text: str) -> ElementTree.Element:
    return ElementTree.fromstring(text.encode("utf-8"))


def _shown(value: str) -> str:
    """What a reader of the feed sees for `value`: forbidden characters as U+FFFD."""
    return "".join("\ufffd" if c in FORBIDDEN else c for c in value)


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_feed_parses_and_keeps_hostile_text_as_text(text: str):
    documents = {f"tool{text}": _document("tool", text)}
    root = _parse(feed.atom(documents, f"2026-01-02T00:00:00Z{text}",
                           site_url=f"https://hub.example/{text}"))
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}summary") == _shown(text)
    assert entry.findtext(f"{ATOM}title") == _shown(f"tool{text} 1.0.0-{text}")
    assert root.get("{http://www.w3.org/XML/1998/namespace}base") == _shown(
        f"https://hub.example/{text}/")
    assert [link.get("href") for link in root.findall(f"{ATOM}link")] == [
        _shown(f"https://hub.example/{text}/feed.xml"), _shown(f"https://hub.example/{text}/")]


def test_feed_of_every_xss_payload_parses_and_holds_each_as_text():
    documents = {f"p{i}": _document(f"p{i}", payload) for i, payload in enumerate(PAYLOADS)}
    root = _parse(feed.atom(documents, "2026-01-02T00:00:00Z"))
    summaries = {entry.findtext(f"{ATOM}summary") for entry in root.findall(f"{ATOM}entry")}
    assert summaries == set(PAYLOADS)
