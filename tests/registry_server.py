"""Start and stop a real CNCF distribution registry (Debian's `docker-registry`).

Tests use `running_registry()` through the `registry` fixture; `make registry`
runs this file in the foreground:

    python tests/registry_server.py --port 5000 --storage /tmp/ebpfhub-registry

The registry listens on 127.0.0.1 only, over plain HTTP, with no auth, using
the config kept in tests/registry/config.yml; the address and the storage
folder are passed through distribution's own environment overrides.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "registry" / "config.yml"
BINARY = "docker-registry"
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class RegistryServer:
    """A running registry: where it listens and where it keeps its blobs."""

    host: str  # "127.0.0.1:PORT", usable in OCI references
    storage: Path
    process: subprocess.Popen[bytes]
    log: Path
    scheme: str = "http"  # "https" with a config that sets http.tls

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    def blob_data_path(self, digest: str) -> Path:
        """The file distribution serves for a blob (tests corrupt it on purpose)."""
        hex_digest = digest.removeprefix("sha256:")
        return (self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
                / hex_digest[:2] / hex_digest / "data")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    """True once /v2/ answers at all (401 counts: a registry with auth is up)."""
    import ssl

    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(f"{url}/v2/", timeout=1, context=context) as response:
            return response.status == 200
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except (urllib.error.URLError, OSError):
        return False


def start(port: int | None = None, storage: Path | None = None,
          log: Path | None = None, config: Path = CONFIG, scheme: str = "http"
          ) -> RegistryServer:
    """Start `docker-registry serve CONFIG` and wait until /v2/ answers."""
    binary = shutil.which(BINARY) or f"/usr/bin/{BINARY}"
    if not Path(binary).exists():
        raise RuntimeError(f"{BINARY} is not installed (apt-get install docker-registry)")
    port = port or free_port()
    storage = storage or Path(tempfile.mkdtemp(prefix="ebpfhub-registry-"))
    storage.mkdir(parents=True, exist_ok=True)
    log = log or storage.parent / f"{storage.name}.log"
    env = dict(os.environ)
    env["REGISTRY_HTTP_ADDR"] = f"127.0.0.1:{port}"
    env["REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY"] = str(storage)
    with open(log, "ab") as log_file:
        process = subprocess.Popen(
            [binary, "serve", str(config)], env=env, stdin=subprocess.DEVNULL,
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    server = RegistryServer(f"127.0.0.1:{port}", storage, process, log, scheme)
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(server.url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(server)
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"registry on port {port} did not start:\n{tail}")
        time.sleep(0.05)
    return server


def stop(server: RegistryServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextlib.contextmanager
def running_registry(port: int | None = None, storage: Path | None = None, *,
                     config: Path = CONFIG, scheme: str = "http") -> Iterator[RegistryServer]:
    """A registry for the duration of a `with` block; temp storage is removed after."""
    own_storage = storage is None
    server = start(port, storage, config=config, scheme=scheme)
    try:
        yield server
    finally:
        stop(server)
        if own_storage:
            shutil.rmtree(server.storage, ignore_errors=True)
            server.log.unlink(missing_ok=True)


def upload_blob(host: str, repository: str, data: bytes) -> str:
    """Upload one blob to a plain-HTTP registry with the bare distribution API; its digest.

    For tests and benches that need registry content without going through
    the client under test.
    """
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(f"http://{host}/v2/{repository}/blobs/uploads/",
                                   method="POST")
    with urllib.request.urlopen(start) as response:
        location = response.headers["Location"]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    separator = "&" if "?" in location else "?"
    urllib.request.urlopen(urllib.request.Request(
        f"{location}{separator}digest={digest}", data=data, method="PUT",
        headers={"Content-Type": "application/octet-stream"})).close()
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local OCI registry in the foreground.")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--storage", type=Path, default=Path("/tmp/ebpfhub-registry"))
    args = parser.parse_args(argv)
    server = start(args.port, args.storage)
    print(f"registry: {server.url} (storage {server.storage}, log {server.log})", flush=True)

    def _stop(_signum: int, _frame: object) -> None:
        stop(server)
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.process.wait()
    return server.process.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
