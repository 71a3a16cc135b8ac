"""The markdown pages mkdocs renders: home, search, package list, packages, authors.

Everything a package author wrote reaches the page either HTML-escaped or
through `sanitize.description_html`; only text the generator controls is
markdown. Package and author pages stay out of the nav (mkdocs repeats the nav
in every page, which costs minutes and gigabytes at hub scale).
"""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from pathlib import Path

from ecli.hubindex import model
from generator.emit import Documents
from generator.entry import Index
from generator.sanitize import description_html

RECENT = 12


def write(index: Index, documents: Documents, docs_dir: Path) -> list[Path]:
    """Write every page under `docs_dir`; returns the paths written."""
    pages: dict[str, str] = {
        "index.md": home(index, documents),
        "search.md": search_page(),
        "packages/index.md": package_list(documents),
        "about.md": about(),
    }
    for name, document in documents.packages.items():
        pages[f"packages/{name}.md"] = package_page(document)
    by_owner: dict[str, list[model.CatalogEntry]] = defaultdict(list)
    for item in documents.catalog.packages:
        for owner in item.owners:
            by_owner[owner].append(item)
    for owner, items in sorted(by_owner.items()):
        pages[f"authors/{owner}.md"] = author_page(owner, items)
    written = []
    for relative, text in pages.items():
        path = docs_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def home(index: Index, documents: Documents) -> str:
    entries = {item.name: item for item in documents.catalog.packages}
    featured = [entries[name] for name in index.featured if name in entries]
    recent = sorted(documents.catalog.packages, key=lambda e: (e.updated or "", e.name),
                    reverse=True)[:RECENT]
    parts = [
        _front_matter("eBPF Hub", "hub-home"),
        "# eBPF Hub\n",
        '<p class="hub-lead">Find, pull and run eBPF programs with one command: '
        "<code>ecli run NAME</code>. Packages are OCI artifacts in ordinary registries; "
        "this hub is their index.</p>\n",
        _search_form("search/"),
    ]
    if featured:
        parts += ["## Featured\n", _cards(featured, "")]
    parts += ["## Recently updated\n", _cards(recent, "")]
    parts.append(f'<p><a href="packages/">Browse all packages ({len(entries)})</a></p>\n')
    return "\n".join(parts)


def search_page() -> str:
    return "\n".join([
        _front_matter("Search", "hub-search"),
        "# Search packages\n",
        _search_form("./", autofocus=True),
        '<p class="hub-search-status" id="hub-search-status" aria-live="polite"></p>\n',
    ])


def package_list(documents: Documents) -> str:
    rows = "".join(
        f'<tr><td><a href="{_package_url(item.name, "../")}">{escape(item.name)}</a></td>'
        f"<td>{escape(item.kind)}</td><td>{escape(item.latest or '')}</td>"
        f"<td>{escape(item.summary)}</td></tr>\n"
        for item in documents.catalog.packages
    )
    return "\n".join([
        _front_matter("All packages", "hub-list"),
        "# All packages\n",
        '<table class="hub-table">\n<thead><tr><th>Name</th><th>Kind</th><th>Latest</th>'
        f"<th>Summary</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n",
    ])


def package_page(document: model.PackageDocument) -> str:
    latest = next((v for v in document.versions if not v.yanked), None)
    parts = [
        _front_matter(document.name, "hub-package", document.summary),
        f"# {document.name}\n",
        f'<p class="hub-lead">{escape(document.summary)}</p>\n',
        _badges(document, latest),
        "## Run it\n",
        _commands(document, latest),
    ]
    if document.description:
        parts += ["## Description\n",
                  f'<div class="hub-description">\n{description_html(document.description)}'
                  "\n</div>\n"]
    parts += ["## Versions\n", _versions(document)]
    if latest is not None and latest.requirements:
        parts += ["## Requirements\n", _requirements(latest.requirements)]
    parts += ["## About\n", _about(document)]
    return "\n".join(parts)


def author_page(owner: str, items: list[model.CatalogEntry]) -> str:
    return "\n".join([
        _front_matter(owner, "hub-author"),
        f"# {owner}\n",
        f'<p><a href="https://github.com/{escape(owner)}" rel="nofollow noopener">'
        f"github.com/{escape(owner)}</a> maintains {len(items)} package(s).</p>\n",
        _cards(items, "../../"),
    ])


def about() -> str:
    return "\n".join([
        _front_matter("About", "hub-about"),
        "# About eBPF Hub\n",
        "eBPF Hub is a static site generated from a Git index. A package is registered "
        "by a pull request that adds `index/packages/NAME.yaml`; CI validates it, "
        "resolves its OCI references to digests and publishes this site and a JSON "
        "index under `api/v1/` that `ecli` reads.\n",
        "The artifacts themselves live in ordinary OCI registries: the hub stores "
        "metadata, never blobs. Every version is pinned by the digest shown on its "
        "page.\n",
        '<p>Machine-readable index: <a href="../api/v1/index.json">api/v1/index.json</a>'
        "</p>\n",
    ])


# --- fragments ---------------------------------------------------------------------


def _front_matter(title: str, hub: str, description: str | None = None) -> str:
    lines = ["---", f"title: {_yaml_string(title)}", f"hub: {hub}"]
    if description:
        # material prints page.meta.description into an attribute without escaping
        lines.append(f"description: {_yaml_string(escape(description))}")
    return "\n".join([*lines, "---", ""])


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar: JSON strings are valid YAML."""
    return json.dumps(text, ensure_ascii=False)


def _search_form(action: str, *, autofocus: bool = False) -> str:
    focus = " autofocus" if autofocus else ""
    return (
        f'<form class="hub-search" action="{action}" method="get" role="search">\n'
        '<input class="hub-search-input" type="search" name="q" autocomplete="off" '
        f'placeholder="Search packages, e.g. open" aria-label="Search packages"{focus}>\n'
        '<button class="md-button md-button--primary" type="submit">Search</button>\n'
        "</form>\n"
        '<ol class="hub-results" aria-label="Search results"></ol>\n'
    )


def _cards(items: list[model.CatalogEntry], prefix: str) -> str:
    cards = "".join(
        f'<li><a href="{_package_url(item.name, prefix)}"><strong>{escape(item.name)}</strong>'
        f'</a> <span class="hub-kind">{escape(item.kind)}</span> '
        f"<span>{escape(item.summary)}</span></li>\n"
        for item in items
    )
    return f'<ul class="hub-cards">\n{cards}</ul>\n'


def _package_url(name: str, prefix: str) -> str:
    return f"{prefix}packages/{name}/"


def _badges(document: model.PackageDocument, latest: model.Version | None) -> str:
    badges = [f"kind: {document.kind}"]
    if latest is not None:
        badges.append(f"latest: {latest.version}")
    if document.license:
        badges.append(f"license: {document.license}")
    spans = " ".join(f'<span class="hub-badge">{escape(b)}</span>' for b in badges)
    return f'<p class="hub-badges">{spans}</p>\n'


def _commands(document: model.PackageDocument, latest: model.Version | None) -> str:
    lines = [f"sudo ecli run {document.name}", f"ecli pull {document.name}"]
    if latest is not None:
        lines.append(f"ecli pull {latest.repository}@{latest.digest}")
    code = escape("\n".join(lines))
    return f'<pre class="hub-command"><code>{code}</code></pre>\n'


def _versions(document: model.PackageDocument) -> str:
    rows = []
    for version in document.versions:
        status = (f'<span class="hub-yanked">yanked: {escape(version.yanked)}</span>'
                  if version.yanked else "")
        rows.append(
            f"<tr><td>{escape(version.version)}</td>"
            f'<td><code class="hub-digest">{escape(version.digest)}</code></td>'
            f"<td><code>{escape(version.ref)}</code></td>"
            f"<td>{escape((version.published or '')[:10])}</td><td>{status}</td></tr>\n"
        )
    return ('<table class="hub-table hub-versions">\n<thead><tr><th>Version</th><th>Digest'
            "</th><th>Reference</th><th>Published</th><th>Status</th></tr></thead>\n"
            f"<tbody>\n{''.join(rows)}</tbody>\n</table>\n")


def _requirements(requirements: dict[str, object]) -> str:
    rows = []
    for key, value in requirements.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else (
            "yes" if value is True else "no" if value is False else str(value))
        rows.append(f"<tr><th>{escape(key.replace('_', ' '))}</th>"
                    f"<td>{escape(shown)}</td></tr>\n")
    return f'<table class="hub-table">\n<tbody>\n{"".join(rows)}</tbody>\n</table>\n'


def _about(document: model.PackageDocument) -> str:
    rows = [("Owners", ", ".join(
        f'<a href="../../authors/{escape(o)}/">{escape(o)}</a>' for o in document.owners))]
    for label, url in (("Homepage", document.homepage), ("Source", document.source)):
        if url:
            rows.append((label, f'<a href="{escape(url)}" rel="nofollow noopener">'
                                f"{escape(url)}</a>"))
    if document.keywords:
        rows.append(("Keywords", escape(", ".join(document.keywords))))
    if document.categories:
        rows.append(("Categories", escape(", ".join(document.categories))))
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>\n" for label, value in rows)
    return f'<table class="hub-table">\n<tbody>\n{body}</tbody>\n</table>\n'
