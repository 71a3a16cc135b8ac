"""The site's "works on my kernel" filter: what each package was proven on, for the page.

`ecli search --kernel RELEASE` keeps a package when its newest usable version
passed on a kernel of this architecture no newer than RELEASE
(`ecli.packages.kernelmatrix.works_on`). That rule is evaluated here, once per
package and architecture, down to one number list: the oldest kernel it passed
on (`oldest_pass`). The page (site_overrides/assets/hub-kernel-filter.js) only
parses the typed release with the pattern sent beside it and compares the two
lists as Python compares tuples. Written as api/v1/search/kernels.json, fetched
only when someone uses the filter, so the search's first results do not wait
for it (shape in docs/formats.md).
"""

from __future__ import annotations

from typing import Any

from ecli.hubindex import model
from ecli.kernel.system import RELEASE
from ecli.packages.kernelmatrix import newest_usable, oldest_pass

FILE = "search/kernels.json"
MACHINES = ("x86_64", "aarch64")  # `uname -m`, as api/v1 `kernels` names them


def controls() -> str:
    """The search page's kernel and architecture fields (read by hub-kernel-filter.js)."""
    machines = "".join(f'<option value="{m}">{m}</option>' for m in MACHINES)
    return ('<span class="hub-kernel-filter"><label>Works on kernel '
            '<input class="hub-kernel-release" name="kernel" list="hub-kernel-list" '
            'placeholder="uname -r" size="16" autocomplete="off" '
            'aria-label="Works on kernel (uname -r)"></label>'
            '<datalist id="hub-kernel-list"></datalist>'
            f'<label>on <select class="hub-kernel-machine" name="machine" '
            f'aria-label="Architecture (uname -m)">{machines}</select></label>'
            '<span class="hub-kernel-note" aria-live="polite"></span></span>')


def build(packages: dict[str, model.PackageDocument]) -> dict[str, Any]:
    """Per architecture, each package proven there and its oldest passing kernel."""
    proven: dict[str, dict[str, list[int]]] = {}
    kernels: set[tuple[str, str]] = set()
    for name in sorted(packages):
        version = newest_usable(packages[name])
        if version is None:
            continue
        for result in version.kernels:
            kernels.add((result.arch, result.kernel))
        for arch in sorted({k.arch for k in version.kernels}):
            oldest = oldest_pass(version, arch)
            if oldest is not None:
                proven.setdefault(arch, {})[name] = list(oldest)
    return {
        "schema_version": model.SCHEMA_VERSION,
        "release_pattern": RELEASE.pattern,
        "architectures": sorted({arch for arch, _ in kernels}),
        "kernels": [{"arch": arch, "kernel": kernel} for arch, kernel in sorted(kernels)],
        "proven": proven,
    }
