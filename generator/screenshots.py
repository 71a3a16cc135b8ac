"""Screenshots of a built site for docs/screenshots/: the home page and three package pages,
at desktop and phone widths, light and dark, in headless Chromium (Debian's).

Re-taken with `make screenshots` before a release of the site's templates
(docs/developer-guide.md, "Screenshots"), then looked at. Each shot is the
top of the page (at most `HEIGHT` pixels), so the files stay small and a
diff of the PNGs shows what moved. Playwright is a dev dependency, imported
only here.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from generator import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTHS = {"desktop": 1280, "phone": 390}
SCHEMES = ("light", "dark")
HEIGHT = {"desktop": 1400, "phone": 1700}  # the top of each page, in CSS pixels
PACKAGES = ("biolatency", "tcpconnect", "sslsniff")


def pages(packages: tuple[str, ...]) -> dict[str, str]:
    """File stem -> path under the site's root."""
    return {"home": "", **{name: f"packages/{name}/" for name in packages}}


@contextmanager
def served(site: Path) -> Iterator[str]:
    """The site served as GitHub Pages would, on a free port, for the length of the block."""
    httpd = serve.server(site, 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def take(site: Path, out: Path, packages: tuple[str, ...]) -> list[Path]:
    """Write every shot into `out`; returns the files written."""
    from playwright.sync_api import sync_playwright

    missing = [path for path in pages(packages).values() if not (site / path / "index.html")
               .is_file()]
    if missing:
        raise SystemExit(f"{site}: no page {missing[0] or 'index.html'}; build the site "
                         "first (make site)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with served(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            for device, width in WIDTHS.items():
                for scheme in SCHEMES:
                    context = browser.new_context(
                        viewport={"width": width, "height": HEIGHT[device]},
                        color_scheme=scheme, device_scale_factor=1,
                        is_mobile=device == "phone", has_touch=device == "phone")
                    page = context.new_page()
                    for stem, path in pages(packages).items():
                        page.goto(base + path, wait_until="networkidle")
                        target = out / f"{stem}-{device}-{scheme}.png"
                        page.screenshot(path=str(target), animations="disabled")
                        written.append(target)
                    context.close()
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generator.screenshots",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=Path(".run/site"),
                        help="a built site (make site builds .run/site)")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--package", action="append", dest="packages",
                        help=f"a package page to shoot (default: {', '.join(PACKAGES)})")
    args = parser.parse_args(argv)
    for path in take(args.site, args.out, tuple(args.packages or PACKAGES)):
        print(f"{path} {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
