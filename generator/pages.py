"""The few pages mkdocs renders itself: home, search, about, and the page shells.

Package, author and list pages are filled into shells (`generator.shell`)
after mkdocs has run, so mkdocs sees a handful of pages whatever the size of
the hub. Text from package authors reaches these pages HTML-escaped.
"""

from __future__ import annotations

import json
from pathlib import Path

from generator import kernelfilter, render, search, shell
from generator.emit import Documents
from generator.entry import Index

SHOWN = 12
SHELLS = ("packages", "authors")  # sections whose pages are filled into a shell


def write(index: Index, documents: Documents, docs_dir: Path,
          popularity: dict[str, int] | None = None) -> list[Path]:
    """Write the mkdocs pages under `docs_dir`; returns the paths written."""
    pages: dict[str, str] = {
        "index.md": home(index, documents, popularity or {}),
        "search.md": search_page(),
        "about.md": about(),
        "packages/index.md": shell.template_markdown(),
    }
    for section in SHELLS:
        pages[f"{section}/{shell.TEMPLATE_NAME}.md"] = shell.template_markdown()
    written = []
    for relative, text in pages.items():
        path = docs_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def home(index: Index, documents: Documents, popularity: dict[str, int]) -> str:
    entries = {item.name: item for item in documents.catalog.packages}
    featured = [entries[name] for name in index.featured if name in entries]
    latest = sorted(documents.catalog.packages, key=lambda e: (e.updated or "", e.name),
                    reverse=True)[:SHOWN]
    popular = [entries[name] for name in sorted(
        (n for n, count in popularity.items() if count > 0 and n in entries),
        key=lambda n: (-popularity[n], n))[:SHOWN]]
    parts = [
        _front_matter("eBPF Hub", "hub-home"),
        '<div class="hub-hero">\n',
        '<img class="hub-logo" src="assets/hub-logo.svg" alt="" width="64" height="64">\n',
        '<h1 id="ebpf-hub">eBPF Hub</h1>\n',
        '<p class="hub-lead">Find, pull and run eBPF programs with one command: '
        "<code>sudo ecli run NAME</code>. Every package is an OCI artifact pinned by digest; "
        "this hub is their index.</p>\n",
        "</div>\n",
        search_form("search/"),
        _categories(documents),
    ]
    if featured:
        parts += ['<h2 id="featured">Featured</h2>\n', render.cards(featured, "")]
    parts += ['<h2 id="latest">Latest</h2>\n', render.cards(latest, "")]
    if popular:
        parts += ['<h2 id="popular">Popular</h2>\n', render.cards(popular, "")]
    parts.append(f'<p><a href="packages/">Browse all {len(entries)} packages</a> · '
                 '<a href="feed.xml">Atom feed of new versions</a></p>\n')
    return "\n".join(parts)


def _categories(documents: Documents) -> str:
    """Browse by category: each with its package count, linking to the filtered search."""
    counts = {category: 0 for category in search.CATEGORIES}
    for entry in documents.catalog.packages:
        for category in set(entry.categories) & counts.keys():
            counts[category] += 1
    items = "".join(f'<li><a href="search/?category={c}">{c}<span class="hub-count">{n}</span>'
                    "</a></li>" for c, n in counts.items() if n)
    if not items:
        return ""
    return (f'<h2 id="categories">Browse by category</h2>\n'
            f'<ul class="hub-categories">{items}</ul>\n')


def search_page() -> str:
    def select(name: str, label: str, options: tuple[str, ...]) -> str:
        items = "".join(f'<option value="{o}">{o}</option>' for o in options)
        return (f'<label>{label} <select name="{name}" class="hub-filter" data-filter="{name}">'
                f'<option value="">any</option>{items}</select></label>')

    filters = "".join((select("category", "Category", search.CATEGORIES),
                       select("kind", "Kind", search.KINDS),
                       select("arch", "Architecture", search.ARCHITECTURES),
                       kernelfilter.controls()))
    return "\n".join([
        _front_matter("Search", "hub-search"),
        "# Search packages\n",
        search_form("./", autofocus=True, filters=filters),
        '<p class="hub-search-status" id="hub-search-status" aria-live="polite"></p>\n',
    ])


def about() -> str:
    return "\n".join([
        _front_matter("About", "hub-about"),
        "# About eBPF Hub\n",
        "eBPF Hub is an index of eBPF programs that run with one command, "
        "`sudo ecli run NAME`, without a compiler or kernel headers on the machine. "
        "It is a static site generated from a Git repository: each package is one "
        "YAML file, `index/packages/NAME.yaml`. The artifacts themselves live in ordinary "
        "OCI registries (ghcr.io, Docker Hub, Harbor, a registry of your own): the hub "
        "stores metadata, never blobs, and every version is pinned by the digest shown on "
        "its page.\n",
        "## How a package gets here\n",
        "1. Build and push it: `ecli build` then `ecli push ghcr.io/you/tool:1.0.0`.\n"
        "2. Open a pull request that adds `index/packages/tool.yaml` (`ecli publish` "
        "prepares it) and changes nothing else. CI judges it with the main branch's own "
        "checks, never the pull request's: it validates the entry, checks that you own "
        "it, resolves every tag to a digest and inspects the eBPF objects: program "
        "types, attach points, helpers, and what they allow (reading kernel memory, "
        "writing user memory, sending signals, network hooks).\n"
        "3. A maintainer reviews and merges; the site and the JSON index update by "
        "themselves. On merge, each new version's digest and date are committed to the "
        "index's Git history (`index/lock.json`), and clients pull that digest, never "
        "the tag. Published versions are immutable: a pull request that changes a "
        "published digest is refused, a tag moved in the registry under a published "
        "version fails the daily check (and the site keeps the pinned digest), and a "
        "version is withdrawn by marking it `yanked` with a reason.\n",
        "## Mirroring\n",
        "Everything `ecli` needs is static: copy `api/v1/` to any web server or folder "
        "(`ecli sources add NAME URL`), and copy the artifacts by digest to your own "
        "registry with `skopeo copy` or `oras copy`. The root document `api/v1/index.json` "
        "can list registry mirrors.\n",
        '<p>Machine-readable index: <a href="../api/v1/index.json">api/v1/index.json</a> · '
        '<a href="../feed.xml">Atom feed</a></p>\n',
    ])


def search_form(action: str, *, autofocus: bool = False, filters: str = "") -> str:
    focus = " autofocus" if autofocus else ""
    box = (f'<form class="hub-search" action="{action}" method="get" role="search">\n'
           '<input class="hub-search-input" type="search" name="q" autocomplete="off" '
           f'placeholder="Search packages, e.g. open" aria-label="Search packages"{focus}>\n'
           '<button class="md-button md-button--primary" type="submit">Search</button>\n')
    if filters:
        box += f'<div class="hub-filters">{filters}</div>\n'
    return box + '</form>\n<ol class="hub-results" aria-label="Search results"></ol>\n'


def _front_matter(title: str, hub: str) -> str:
    return "\n".join(["---", f"title: {json.dumps(title)}", f"hub: {hub}", "---", ""])

