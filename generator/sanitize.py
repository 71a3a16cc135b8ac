"""Package descriptions from pull requests, rendered to HTML that is safe to publish.

Markdown may carry raw HTML, so the description is rendered here (not by
mkdocs) and the result is cleaned by nh3 with an allow-list: no scripts, no
event handlers, no `javascript:` links, no iframes or forms. Links get
rel="nofollow noopener ugc". The page then embeds the cleaned HTML as is.
"""

from __future__ import annotations

import markdown
import nh3

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
}
URL_SCHEMES = {"https", "http", "mailto"}


def description_html(text: str) -> str:
    """Markdown in, cleaned HTML out. Headings start at h2: the page owns the h1."""
    html = markdown.markdown(text, extensions=["fenced_code", "tables", "sane_lists"],
                             output_format="html")
    html = html.replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="nofollow noopener ugc")
