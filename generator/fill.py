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
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ecli.hubindex import model
from generator import emit, feed, render, shell
from generator.buildcache import Outputs
from generator.emit import Documents

PARALLEL_FROM = 500
_JOB: tuple[Documents, shell.Shell, Path, Outputs | None] | None = None  # what workers read


@dataclass(frozen=True)
class Cached:
    """A build with the cache: where outputs are kept, and what each package's are made of.

    `material(name)` is every input of the package's page and document but the
    page shell; `complete(names)` gives the complete documents of the packages
    to render, when `documents` holds them without their inspections.
    """

    outputs: Outputs
    material: Callable[[str], bytes]
    complete: Callable[[list[str]], dict[str, model.PackageDocument]] | None = None


@dataclass(frozen=True)
class Filled:
    pages: int  # every page written, package pages included
    rendered: int  # package pages rendered in this build
    reused: int  # package pages taken from the build cache
    documents: Documents  # complete: rendered packages' documents, everyone's architectures


def fill(documents: Documents, site_dir: Path, site_url: str = "",
         cached: Cached | None = None) -> Filled:
    """Write every generated page into `site_dir`.

    With the build cache, a package whose inputs and page shell are what they
    were at the last build gets its page and api/v1 document linked from the
    cache instead of rendered; every other page (lists, authors, feed,
    sitemap) sees every package and is written afresh.
    """
    packages_shell = shell.take(site_dir, "packages")
    authors_shell = shell.take(site_dir, "authors")
    list_shell = shell.take(site_dir, "packages", placeholder=False)
    names = list(documents.packages)
    (site_dir / emit.API_DIR / model.PACKAGES_DIR).mkdir(parents=True, exist_ok=True)
    documents, rendered = _packages(documents, packages_shell, site_dir, names, cached)
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
    return Filled(len(names) + len(by_owner) + 1, rendered, len(names) - rendered, documents)


def _packages(documents: Documents, page: shell.Shell, site_dir: Path,
              names: list[str], cached: Cached | None) -> tuple[Documents, int]:
    """Render what the cache cannot give back; returns the complete documents and how
    many packages were rendered."""
    global _JOB
    keys: dict[str, str] = {}
    kept: dict[str, tuple[str, ...]] = {}  # architectures of the reused packages
    todo = names
    outputs = cached.outputs if cached is not None else None
    if cached is not None:
        shell_key = page.key()
        todo = []
        for name in names:
            keys[name] = cached.outputs.key(shell_key, cached.material(name))
            destinations = _destinations(site_dir, name)
            destinations[0].parent.mkdir(parents=True, exist_ok=True)
            extra = cached.outputs.reuse(name, keys[name], destinations)
            if extra is None:
                todo.append(name)
            else:
                kept[name] = tuple(a for a in extra.split(",") if a)
        if cached.complete is not None:
            documents = emit.completed(documents, cached.complete(todo), kept)
    workers = min(os.cpu_count() or 1, 8)
    if len(todo) < PARALLEL_FROM or workers < 2:
        done = [_package(documents, page, site_dir, name, outputs) for name in todo]
    else:
        _JOB = (documents, page, site_dir, outputs)
        try:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                chunks = [todo[i::workers] for i in range(workers)]
                done = [item for chunk in pool.map(_package_chunk, chunks) for item in chunk]
        finally:
            _JOB = None
    if outputs is not None:
        for name, digests in done:
            architectures = emit.architectures_of(documents.packages[name])
            outputs.record(name, keys[name], digests, ",".join(architectures))
    return documents, len(todo)


def _package_chunk(names: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    assert _JOB is not None
    documents, page, site_dir, outputs = _JOB
    return [_package(documents, page, site_dir, name, outputs) for name in names]


def _destinations(site_dir: Path, name: str) -> tuple[Path, Path]:
    return (site_dir / "packages" / name / "index.html",
            site_dir / emit.API_DIR / model.PACKAGES_DIR / f"{name}.json")


def _package(documents: Documents, page: shell.Shell, site_dir: Path, name: str,
             outputs: Outputs | None) -> tuple[str, tuple[str, ...]]:
    """The package's page and its api/v1 document (written here to share the workers);
    returns the sha256 of each when they went through the cache."""
    document = documents.packages[name]
    html = page.render(name, document.summary, render.package_page(document)).encode()
    data = model.dump(document)
    destinations = _destinations(site_dir, name)
    destinations[0].parent.mkdir(parents=True, exist_ok=True)
    if outputs is not None:
        return name, tuple(outputs.put(content, path)
                           for content, path in zip((html, data), destinations, strict=True))
    destinations[0].write_bytes(html)
    destinations[1].write_bytes(data)
    return name, ()


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
