"""The prebuilt lunr index behind the site's search page.

Built once by the generator with lunr.py so the browser only loads it: name
(boosted), summary and keywords, nothing else, to keep it small at 10,000
packages. The page shows hits from search/docs.json, so no text is stored here.
"""

from __future__ import annotations

from typing import Any

from generator.entry import Index

FIELDS = ({"field_name": "name", "boost": 10}, "summary", "keywords")


def build(index: Index) -> dict[str, Any]:
    from lunr import lunr  # imported here: validate and resolve never need it

    documents = [
        {"name": entry.name, "summary": entry.summary, "keywords": " ".join(entry.keywords)}
        for _, entry in sorted(index.entries.items())
    ]
    return lunr(ref="name", fields=list(FIELDS), documents=documents).serialize()
