"""Serving a built site on this machine the way GitHub Pages serves it.

`python -m http.server` answers a missing page with Python's own bare 404; a
static host answers it with the site's `404.html` and status 404, and serves
the site under its URL's path (`/hub/` for https://owner.github.io/hub/). The
demo (`make serve`) and the site tests use this one handler, so what they see
is what the published site does.
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class PagesHandler(SimpleHTTPRequestHandler):
    """The site in `directory` under `prefix`; anything missing gets 404.html, status 404."""

    prefix = "/"

    def log_message(self, format: str, *args: object) -> None:
        pass  # a preview server: no access log on the terminal

    def translate_path(self, path: str) -> str:
        bare = path.split("?", 1)[0].split("#", 1)[0]
        if not bare.startswith(self.prefix):
            return str(Path(self.directory) / "no such file")
        return super().translate_path("/" + bare[len(self.prefix):])

    def send_head(self):  # type: ignore[no-untyped-def]  (the base class is untyped)
        target = Path(self.translate_path(self.path))
        if target.is_dir() and self.path.split("?", 1)[0].endswith("/"):
            target = target / "index.html"
        if not target.is_file():
            page = Path(self.directory) / "404.html"
            body = page.read_bytes() if page.is_file() else b"not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return None
        return super().send_head()


def server(directory: Path, port: int, *, host: str = "127.0.0.1",
           prefix: str = "/") -> ThreadingHTTPServer:
    """A server for `directory` bound to host:port (port 0: any free one)."""
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    handler = type("Handler", (PagesHandler,), {"prefix": prefix})
    return ThreadingHTTPServer((host, port),
                               functools.partial(handler, directory=str(directory)))
