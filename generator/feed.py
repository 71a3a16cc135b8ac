"""feed.xml: an Atom feed of the newest versions published on the hub.

Links are absolute when mkdocs.yml names a `site_url`, else relative to the
feed (Atom allows that through xml:base). The feed is small on purpose: the
50 newest versions, newest first.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from ecli.hubindex import model

SIZE = 50


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
            f"<title>{escape(f'{name} {version.version}')}</title>"
            f"<id>urn:ebpfhub:{escape(name)}:{escape(version.version)}</id>"
            f"<link href={quoteattr(link)}/>"
            f"<updated>{escape(published or generated)}</updated>"
            f"<summary>{escape(documents[name].summary)}</summary>"
            f"<content type=\"text\">{escape(f'{version.repository}@{version.digest}')}"
            "</content>"
            "</entry>\n")
    base_attr = f" xml:base={quoteattr(base)}" if base else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom"{base_attr}>\n'
        "<title>eBPF Hub: new versions</title>\n"
        "<id>urn:ebpfhub:feed</id>\n"
        f'<link rel="self" href="{escape(base)}feed.xml"/>\n'
        f'<link href="{escape(base) or "./"}"/>\n'
        f"<updated>{escape(updated)}</updated>\n"
        "<author><name>eBPF Hub</name></author>\n"
        f"{''.join(entries)}</feed>\n")
