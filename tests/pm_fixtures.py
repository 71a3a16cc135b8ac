"""Bundle packages pushed to the real registry, and JSON indexes that list them."""

from __future__ import annotations

import contextlib
import io
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ecli.hubindex import model
from ecli.oci import artifact, registry
from ecli.oci import reference as references
from ecli.oci.config import PackageConfig
from ecli.oci.store import Store


def bundle_tar(path: Path, files: dict[str, tuple[bytes, int]]) -> Path:
    """A tar.gz of `files` (name -> (content, mode))."""
    with tarfile.open(path, "w:gz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return path


def hello_script(extra: bytes = b"") -> bytes:
    return (b'#!/bin/sh\necho "hello $ECLI_PACKAGE_VERSION $*"\n'
            b'test -f "$ECLI_BUNDLE_DIR/share/data.txt" || exit 3\n' + extra)


def bundle_layout(folder: Path, name: str, version: str, payload: bytes = b"") -> Store:
    """An OCI layout holding one bundle package `name` `version`."""
    folder.mkdir(parents=True, exist_ok=True)
    tar = bundle_tar(folder / "bundle.tar.gz", {
        "bin/hello": (hello_script(), 0o755),
        "share/data.txt": (b"data\n" + payload, 0o644),
    })
    store = Store(folder / "oci")
    config = PackageConfig(name=name, version=version, kind="bundle",
                           description=f"{name} says hello", entrypoint=("bin/hello",))
    artifact.create(store, config, [tar], tag=version)
    return store


def push_bundle(registry_host: str, tmp: Path, name: str, version: str,
                payload: bytes = b"") -> str:
    """Build and push `name:version`; returns its manifest digest."""
    store = bundle_layout(tmp / f"{name}-{version}", name, version, payload)
    ref = references.parse(f"{registry_host}/pm/{name}:{version}")
    return registry.push(store, ref)


def index_document(name: str, repository: str,
                   versions: list[tuple[str, str, str | None]],
                   kind: str = "bundle") -> model.PackageDocument:
    """versions: (version, digest, yanked reason), newest first."""
    return model.PackageDocument(
        schema_version=1, name=name, summary=f"{name} package", kind=kind,
        owners=("tester",),
        versions=tuple(model.Version(version=v, ref=f"{repository}:{v}", repository=repository,
                                     digest=d, yanked=y,
                                     requirements={"capabilities": ["CAP_BPF"]})
                       for v, d, y in versions))


def write_catalog(folder: Path, documents: list[model.PackageDocument],
                  mirrors: dict[str, str] | None = None) -> Path:
    (folder / model.PACKAGES_DIR).mkdir(parents=True, exist_ok=True)
    generated = "2026-11-25T00:00:00Z"
    (folder / model.ROOT_FILE).write_bytes(model.dump(model.Root(
        1, generated, registry_mirrors=mirrors or {})))
    entries = tuple(model.CatalogEntry(
        name=d.name, summary=d.summary, kind=d.kind,
        latest=next((v.version for v in d.versions if not v.yanked), None))
        for d in documents)
    (folder / model.CATALOG_FILE).write_bytes(model.dump(model.Catalog(1, generated, entries)))
    for d in documents:
        (folder / model.PACKAGES_DIR / f"{d.name}.json").write_bytes(model.dump(d))
    return folder


@contextlib.contextmanager
def slow_proxy(upstream: str, delay: float = 0.01, chunk: int = 16384) -> Iterator[str]:
    """A TCP proxy on 127.0.0.1 that slows what `upstream` sends; yields its host:port."""
    up_host, up_port = upstream.rsplit(":", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def pump(src: socket.socket, dst: socket.socket, slow: bool) -> None:
        try:
            while data := src.recv(chunk):
                dst.sendall(data)
                if slow:
                    time.sleep(delay)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection((up_host, int(up_port)))
            threading.Thread(target=pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, True), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
