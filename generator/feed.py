"""feed.xml: an Atom feed of the newest versions published on the hub.

Links are absolute when mkdocs.yml names a `site_url`, else relative to the
feed (Atom allows that through xml:base). The feed is small on purpose: the
50 newest versions, newest first.

The feed stays well-formed XML whatever an entry holds: validation refuses
control characters, but this writer does not rely on it. Every value passes
through `_text`, which replaces what XML 1.0 forbids even escaped (C0 controls
but tab, newline and CR; lone surrogates; U+FFFE and U+FFFF) with U+FFFD and
then escapes markup.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape, quoteattr

from ecli.hubindex import model

SIZE = 50
# Everything outside XML 1.0's Char production.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    """`value` as XML character data: forbidden characters replaced, markup escaped."""
    return escape(_NOT_XML.sub("\ufffd", value))


def _attribute(value: str) -> str:
    """`value` as a quoted XML attribute, with the same replacement."""
    return quoteattr(_NOT_XML.sub("\ufffd", value))


def atom(documents: dict[str, model.PackageDocument], generated: str, site_url: str = "") -> str:
    base = site_url.rstrip("/") + "/" if site_url else ""
    items = sorted(
        ((version.published or "", name, version) for name, doc in documents.items()
         for version in doc.versions if not version.yanked),
        key=lambda item: (item[0], item[1]), reverse=True)[:SIZE]
    updated = items[0][0] if items else generated
    entries = []
    for published, name, version in items:
        link = f"{base}packages/{name}/"
        entries.append(
            "<entry>"
            f"<title>{_text(f'{name} {version.version}')}</title>"
            f"<id>urn:ebpfhub:{_text(name)}:{_text(version.version)}</id>"
            f"<link href={_attribute(link)}/>"
            f"<updated>{_text(published or generated)}</updated>"
            f"<summary>{_text(documents[name].summary)}</summary>"
            f"<content type=\"text\">{_text(f'{version.repository}@{version.digest}')}"
            "</content>"
            "</entry>\n")
    base_attr = f" xml:base={_attribute(base)}" if base else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{base_attr}>\n'
        "<title>eBPF Hub: new versions</title>\n"
        "<id>urn:ebpfhub:feed</id>\n"
        f'<link rel="self" href={_attribute(f"{base}feed.xml")}/>\n'
        f'<link href={_attribute(base or "./")}/>\n'
        f"<updated>{_text(updated)}</updated>\n"
        "<author><name>eBPF Hub</name></author>\n"
        f"{''.join(entries)}</feed>\n")
