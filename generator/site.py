"""mkdocs build into a fresh directory, then the swap into place.

The site is built next to the output directory (`DIR.tmp`), completed there
(api/v1 is written after mkdocs, which empties its site_dir first), and only
then renamed over `DIR`. Any failure removes `DIR.tmp` and leaves `DIR` as it
was, so a broken build never publishes half a site.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from generator.problems import GeneratorError, Problem

MARKER = "api/v1/index.json"  # what makes a directory one of our builds


def check_target(out: Path) -> None:
    """Refuse to replace a directory that is not a previous build (e.g. `--out .`)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and
                                              not (out / MARKER).is_file())):
        raise GeneratorError([Problem(str(out), 1, 1, "", "refusing to replace this path: "
                                      f"it exists and is not a hub site (no {MARKER})",
                                      hint="choose an empty or new --out directory",
                                      code="out")])


def staging_dir(out: Path) -> Path:
    return out.with_name(out.name + ".tmp")


SITE_URL_ENV = "HUB_SITE_URL"


def check_site_url(given: str) -> str:
    """An http(s) URL of a folder, with its trailing slash; a problem otherwise."""
    parts = urlsplit(given)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise GeneratorError([Problem("--site-url", 1, 1, "", f"{given!r} is not an http(s) "
                                      "URL of a folder", code="site-url",
                                      hint="write e.g. https://owner.github.io/hub/")])
    return given if given.endswith("/") else given + "/"


def mkdocs_build(config_file: Path, docs_dir: Path, site_dir: Path,
                 url: str | None = None) -> SiteConfig:
    """Run mkdocs with our docs_dir and site_dir; its warnings fail the build (strict).

    The site's URL is `url` (`--site-url`), else mkdocs.yml's site_url, else
    HUB_SITE_URL, else none. Only the 404 page needs it to be right: a host
    serves that page for any missing path, at any depth, so its links are
    root-absolute from the URL's path (without one, from "/").

    mkdocs logs through `logging`; its warnings are collected here and put into
    the problem instead of reaching stderr on their own.
    """
    import jinja2
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    collected = _Collect()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(collected)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        overrides = {"site_url": check_site_url(url)} if url is not None else {}
        config = load_config(config_file=str(config_file), docs_dir=str(docs_dir),
                             site_dir=str(site_dir), strict=True, **overrides)
        fallback = os.environ.get(SITE_URL_ENV)
        if not config.site_url and fallback:
            config["site_url"] = check_site_url(fallback)
        build(config)
        return SiteConfig(config.site_url or "")
    except (MkDocsException, OSError, jinja2.TemplateError) as exc:
        details = "; ".join(collected.messages[:5])
        raise GeneratorError([Problem(
            str(config_file), 1, 1, "", f"mkdocs failed: {exc}" + (
                f" ({details})" if details else ""),
            hint="fix the site configuration or templates; site_overrides/ and "
            "mkdocs.yml are read from the index repository", code="mkdocs")]) from None
    finally:
        logger.removeHandler(collected)
        logger.setLevel(level)


@dataclass(frozen=True)
class SiteConfig:
    """What the rest of the build needs from mkdocs.yml."""

    site_url: str


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def publish(staged: Path, out: Path) -> None:
    """Put the finished build in place: rename the old one aside, rename, remove the old."""
    if out.exists():
        retired = out.with_name(out.name + ".old")
        shutil.rmtree(retired, ignore_errors=True)
        os.rename(out, retired)
        os.rename(staged, out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.rename(staged, out)
