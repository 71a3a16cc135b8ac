"""Package and author pages from a page shell that mkdocs renders once.

mkdocs-material costs milliseconds and kilobytes of nav per page, which is
minutes at hub scale (DESIGN.md §11). So mkdocs renders one placeholder page
per kind of page, at the same depth as the real ones (so every relative link
in it is right for them), and the generator cuts it at the markers and fills
in each package: the look, palette, header and scripts stay material's own,
and a page costs one string join and one write.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from generator.problems import GeneratorError, Problem

TITLE = "hubmarkertitle"
DESCRIPTION = "hubmarkerdescription"
CONTENT = "hubmarkercontent"
ANCHOR = "hubmarkeranchor"  # the h1's id, which mkdocs derives from the title
TEMPLATE_NAME = "hub-template"
NAME = "hubmarkername"  # the page's folder, in its canonical URL (mkdocs writes one
# when the site has a site_url)
_INDENT = re.compile(r"\n\s+")
_SLUG = re.compile(r"[^a-z0-9_-]+")


def template_markdown() -> str:
    """The placeholder page mkdocs renders: markers where each page's text goes."""
    return f'---\ntitle: {TITLE}\ndescription: {DESCRIPTION}\n---\n\n# {TITLE}\n\n{CONTENT}\n'


@dataclass(frozen=True)
class Shell:
    """A rendered page cut at its markers; `render` puts one page's parts back in."""

    parts: tuple[str, ...]  # text between markers
    slots: tuple[str, ...]  # which marker follows each part but the last

    @classmethod
    def cut(cls, html: str, where: str) -> Shell:
        # the theme indents deeply; the shell holds no <pre>, so indentation can go
        html = _INDENT.sub("\n", html.replace(f"<p>{CONTENT}</p>", CONTENT))
        html = html.replace(f'id="{TITLE}"', f'id="{ANCHOR}"').replace(f"#{TITLE}", f"#{ANCHOR}")
        html = html.replace(f"/{TEMPLATE_NAME}/", f"/{NAME}/")
        if html.count(CONTENT) != 1:
            raise GeneratorError([Problem(where, 1, 1, "", "the page template lost its "
                                          "content marker", code="mkdocs",
                                          hint="site_overrides/main.html must keep "
                                          "{{ page.content }}")])
        parts: list[str] = []
        slots: list[str] = []
        rest = html
        while True:
            found = [(rest.find(m), m) for m in (TITLE, DESCRIPTION, CONTENT, ANCHOR, NAME)
                     if m in rest]
            if not found:
                parts.append(rest)
                break
            at, marker = min(found)
            parts.append(rest[:at])
            slots.append(marker)
            rest = rest[at + len(marker):]
        return cls(tuple(parts), tuple(slots))

    def key(self) -> str:
        """Changes when the shell does: part of the build cache's key for filled pages."""
        return hashlib.sha256("\0".join((*self.parts, "\1", *self.slots)).encode()).hexdigest()

    def render(self, title: str, description: str, content: str) -> str:
        values = {TITLE: escape(title), DESCRIPTION: escape(description), CONTENT: content,
                  ANCHOR: _SLUG.sub("-", title.lower()).strip("-"),
                  NAME: escape(quote(title))}
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out.append(values[slot])
            out.append(part)
        return "".join(out)


def take(site_dir: Path, section: str, *, placeholder: bool = True) -> Shell:
    """The shell of SITE/SECTION/hub-template/index.html (removed after reading), or of
    SITE/SECTION/index.html when that page itself is filled in (`placeholder=False`)."""
    folder = site_dir / section / TEMPLATE_NAME if placeholder else site_dir / section
    page = folder / "index.html"
    try:
        html = page.read_text(encoding="utf-8")
    except OSError as exc:
        raise GeneratorError([Problem(str(page), 1, 1, "", f"mkdocs did not render the page "
                                      f"template: {exc.strerror}", code="mkdocs")]) from None
    if placeholder:
        shutil.rmtree(folder)
    return Shell.cut(html, str(page))
