"""Small JSON indexes written through the model, one-entry YAML indexes for the
generator, HTTP servers on 127.0.0.1, and a home with a cached package, for tests
(and bench/)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from ecli.hubindex import model

DIGEST = "sha256:" + "ab" * 32


def package(name: str, summary: str, keywords: tuple[str, ...] = (),
            versions: tuple[str, ...] = ("0.1.0",), yanked: str | None = None,
            ) -> model.PackageDocument:
    return model.PackageDocument(
        schema_version=1, name=name, summary=summary, kind="bpf", keywords=keywords,
        owners=("someone",),
        versions=tuple(
            model.Version(version=v, ref=f"127.0.0.1:5000/hub/{name}:{v}",
                          repository=f"127.0.0.1:5000/hub/{name}", digest=DIGEST,
                          yanked=yanked if i == 0 else None)
            for i, v in enumerate(versions)),
    )


def write_index(folder: Path, packages: list[model.PackageDocument]) -> Path:
    """Write index.json, catalog.json and packages/*.json; returns the folder."""
    (folder / model.PACKAGES_DIR).mkdir(parents=True, exist_ok=True)
    generated = "2026-11-25T00:00:00Z"
    (folder / model.ROOT_FILE).write_bytes(model.dump(model.Root(1, generated)))
    entries = tuple(
        model.CatalogEntry(name=p.name, summary=p.summary, kind=p.kind,
                           latest=p.versions[0].version, keywords=p.keywords)
        for p in packages)
    (folder / model.CATALOG_FILE).write_bytes(model.dump(model.Catalog(1, generated, entries)))
    for p in packages:
        (folder / model.PACKAGES_DIR / f"{p.name}.json").write_bytes(model.dump(p))
    return folder


def entry_index(folder: Path, name: str, ref: str, *, kind: str = "bpf",
                summary: str = "a tool", license_id: str = "MIT",
                version: str = "1.0.0") -> Path:
    """An index/ in `folder` for `python -m generator`: the repository's schema and one
    YAML entry, `name` at one `version` whose ref is `ref`; returns the index folder."""
    index = folder / "index"
    shutil.copytree(REPO_INDEX / "schema", index / "schema")
    (index / "packages").mkdir()
    (index / "packages" / f"{name}.yaml").write_text(
        f"name: {name}\nkind: {kind}\nsummary: {summary}\nowners: [ebpfhub]\n"
        f"license: {license_id}\nversions:\n  - version: {version}\n    ref: '{ref}'\n")
    return index


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests_seen: list[tuple[str, str]]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.requests_seen.append((self.path, str(code)))
        super().send_response(code, message)


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Serve `folder` over HTTP on 127.0.0.1; yields (base URL, [(path, status)])."""
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_QuietHandler,), {"requests_seen": seen})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    with serving(server) as url:
        yield url + "/", seen


@contextlib.contextmanager
def serving(server: socketserver.TCPServer, scheme: str = "http") -> Iterator[str]:
    """Run `server` in a daemon thread for a `with` block; yields its base URL."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def opensnoop_only_index() -> Path:
    """A copy of this repository's index/ with only the opensnoop entry.

    For tests written against one known package; removed when the tests end.
    """
    folder = Path(tempfile.mkdtemp(prefix="index-"))
    atexit.register(shutil.rmtree, folder, True)
    index = folder / "index"
    shutil.copytree(REPO_INDEX, index, ignore=shutil.ignore_patterns("lock.json", "*.yaml"))
    shutil.copy(REPO_INDEX / "featured.yaml", index / "featured.yaml")
    shutil.copy(REPO_INDEX / "packages" / "opensnoop.yaml", index / "packages" / "opensnoop.yaml")
    for beside in ("mkdocs.yml", "site_overrides"):  # the site is configured beside index/
        (folder / beside).symlink_to(REPO_INDEX.parent / beside)
    return index


REPO_INDEX = Path(__file__).resolve().parent.parent / "index"


def cached_package_env(work: Path, registry_host: str) -> dict[str, str]:
    """The environment of an ECLI_HOME (under `work`) whose store already holds opensnoop,
    built from examples/ and pushed to `registry_host`, found through a local source."""
    env = {**os.environ, "ECLI_HOME": str(work / "home"), "ECLI_DEFAULT_SOURCE": ""}
    ecli = [sys.executable, "-m", "ecli"]
    project = work / "opensnoop"
    shutil.copytree(REPO_INDEX.parent / "examples" / "opensnoop", project)
    subprocess.run([*ecli, "-q", "build", str(project)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    ref = f"{registry_host}/bench/opensnoop:0.1.0"
    subprocess.run([*ecli, "-q", "push", ref, "--dir", str(project)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    pulled = subprocess.run([*ecli, "pull", ref, "--json"], check=True, env=env,
                            capture_output=True, text=True).stdout
    digest = json.loads(pulled)["digest"]
    document = model.PackageDocument(
        schema_version=1, name="opensnoop", summary="bench", kind="bpf",
        versions=(model.Version("0.1.0", ref, f"{registry_host}/bench/opensnoop", digest),))
    index = write_index(work / "index", [document])
    subprocess.run([*ecli, "sources", "add", "bench", str(index)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*ecli, "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    return env
