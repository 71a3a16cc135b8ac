"""Fill the page shells mkdocs rendered: package, author and list pages, feed, sitemap;
and write each package's api/v1 document beside its page.

At 10,000 packages this is the bulk of a build, so it stays plain string
work: render the article, join it into the shell, write the file. Package
pages are split between worker processes (forked, so they share the
documents without pickling them) when there are enough to be worth it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ecli.hubindex import model
from generator import emit, feed, render, shell
from generator.emit import Documents

PARALLEL_FROM = 500
_JOB: tuple[Documents, shell.Shell, Path] | None = None  # what forked workers read


def fill(documents: Documents, site_dir: Path, site_url: str = "") -> int:
    """Write every generated page into `site_dir`; returns how many."""
    packages_shell = shell.take(site_dir, "packages")
    authors_shell = shell.take(site_dir, "authors")
    list_shell = shell.take(site_dir, "packages", placeholder=False)
    names = list(documents.packages)
    (site_dir / emit.API_DIR / model.PACKAGES_DIR).mkdir(parents=True, exist_ok=True)
    written = _packages(documents, packages_shell, site_dir, names)
    by_owner: dict[str, list[model.CatalogEntry]] = defaultdict(list)
    for item in documents.catalog.packages:
        for owner in item.owners:
            by_owner[owner].append(item)
    for owner, items in by_owner.items():
        _write(site_dir / "authors" / owner / "index.html", authors_shell.render(
            owner, f"eBPF packages maintained by {owner}", render.author_page(owner, items)))
    _write(site_dir / "packages" / "index.html", list_shell.render(
        "All packages", "Every package of the hub", render.package_list(
            documents.catalog.packages)))
    _write(site_dir / "feed.xml", feed.atom(documents.packages, documents.root.generated,
                                            site_url))
    _sitemap(site_dir, names, sorted(by_owner), site_url)
    return written + len(by_owner) + 1


def _packages(documents: Documents, page: shell.Shell, site_dir: Path,
              names: list[str]) -> int:
    global _JOB
    workers = min(os.cpu_count() or 1, 8)
    if len(names) < PARALLEL_FROM or workers < 2:
        for name in names:
            _package(documents, page, site_dir, name)
        return len(names)
    _JOB = (documents, page, site_dir)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            chunks = [names[i::workers] for i in range(workers)]
            return sum(pool.map(_package_chunk, chunks))
    finally:
        _JOB = None


def _package_chunk(names: list[str]) -> int:
    assert _JOB is not None
    documents, page, site_dir = _JOB
    for name in names:
        _package(documents, page, site_dir, name)
    return len(names)


def _package(documents: Documents, page: shell.Shell, site_dir: Path, name: str) -> None:
    """The package's page and its api/v1 document (written here to share the workers)."""
    document = documents.packages[name]
    _write(site_dir / "packages" / name / "index.html",
           page.render(name, document.summary, render.package_page(document)))
    (site_dir / emit.API_DIR / model.PACKAGES_DIR / f"{name}.json").write_bytes(
        model.dump(document))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _sitemap(site_dir: Path, packages: list[str], owners: list[str], site_url: str) -> None:
    """sitemap.xml as a sitemap index over sitemap-pages.xml, which lists every page.

    The theme fetches sitemap.xml on every page load; at 10,000 packages a
    flat sitemap would cost each visitor half a megabyte. Without a `site_url`
    the locations are relative to the site's root.
    """
    (site_dir / "sitemap.xml.gz").unlink(missing_ok=True)
    base = site_url.rstrip("/") + "/" if site_url else ""
    paths = ["", "search/", "about/", "packages/"]
    paths += [f"packages/{name}/" for name in packages]
    paths += [f"authors/{owner}/" for owner in owners]
    urls = "".join(f"<url><loc>{base}{path}</loc></url>\n" for path in paths)
    _write(site_dir / "sitemap-pages.xml", '<?xml version="1.0" encoding="UTF-8"?>\n'
           '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
           f"{urls}</urlset>\n")
    _write(site_dir / "sitemap.xml", '<?xml version="1.0" encoding="UTF-8"?>\n'
           '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
           f"<sitemap><loc>{base}sitemap-pages.xml</loc></sitemap>\n</sitemapindex>\n")
