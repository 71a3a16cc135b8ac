"""One transport for registries, sources and URLs: the deadline, per-host CAs, proxies, the seam.

End to end against servers of our own on 127.0.0.1 (tests/net_servers.py):
a registry, a source and a URL that send one byte per second (after their
headers, or their headers too) are cut off at ECLI_HTTP_TIMEOUT with one
line naming host:port, and store nothing; an index over TLS is trusted
through certs.d/HOST/ca.crt alone; sources go through the environment's
proxy. In process: the clients given a swapped transport (malformed,
oversized, failing and conditional answers), the TLS handshake under the
deadline, NO_PROXY matching, and the layering rules of ecli/net.
"""

from __future__ import annotations

import email.message
import functools
import http.server
import json
import os
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

import pytest

from ecli.errors import DigestMismatchError, SourceError, TransportError, UsageError
from ecli.hubindex import model
from ecli.net import deadline, proxies
from ecli.net.base import Response
from ecli.net.transport import HTTPTransport
from ecli.oci import artifact, mediatypes, reference, registry
from ecli.oci.config import PackageConfig
from ecli.oci.store import Store
from ecli.packages.index_client import IndexClient
from ecli.packages.sources import add
from ecli.paths import Paths

from bpf_objects import compile_bpf
from ecli_process import ecli_command, run_ecli
from index_fixtures import package, serve, serving, write_index
from net_servers import BODY_ONLY, HEADERS, over_tls, running_proxy, trickling_server
from token_server import self_signed

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 2  # seconds, through ECLI_HTTP_TIMEOUT
MARGIN = 3.0  # Python's start and a busy machine, on top of the deadline
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    return {**env, "ECLI_HOME": str(tmp_path / "home"), "ECLI_DEFAULT_SOURCE": "",
            "ECLI_HTTP_TIMEOUT": str(DEADLINE)}


@pytest.fixture
def index_dir(tmp_path):
    return write_index(tmp_path / "site" / "api" / "v1",
                       [package("opensnoop", "Trace open() system calls", ("file",))])


def _timed(*args: str, env: dict[str, str]) -> tuple[int, list[str], float]:
    start = time.monotonic()
    result = run_ecli(*args, env=env, timeout=60)
    return result.returncode, result.stderr.splitlines(), time.monotonic() - start


def _complaints(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("ecli: error:", "ecli: warning:"))]


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# -- a trickle is cut off at the deadline, everywhere ---------------------------------


@pytest.mark.parametrize("trickle", [HEADERS, BODY_ONLY])
def test_a_trickling_registry_fails_at_the_deadline(env, tmp_path, trickle):
    layout = Store(tmp_path / "layout")
    obj = tmp_path / "slow.bpf.o"
    obj.write_bytes(os.urandom(4096))
    descriptor = artifact.create(layout, PackageConfig(name="slow", version="1", kind="bpf",
                                                       object=obj.name), [obj], tag="1")
    manifest = layout.read_blob(descriptor.digest)
    fast = {"/v2/x/y/manifests/1": ({"Content-Type": mediatypes.OCI_MANIFEST}, manifest)}
    with trickling_server(fast, trickle) as (url, asked):
        host = url.removeprefix("http://")
        code, lines, seconds = _timed("pull", f"{host}/x/y:1", env=env)
    assert code == 1 and DEADLINE <= seconds < DEADLINE + MARGIN, (seconds, lines)
    assert len(lines) == 1 and lines[0].startswith(f"ecli: error: {host}/x/y:1: ")
    assert lines[0].endswith(f": no complete answer from {host} within {DEADLINE} s")
    assert asked[0] == "/v2/x/y/manifests/1" and asked[1].startswith("/v2/x/y/blobs/sha256:")
    store = Path(env["ECLI_HOME"]) / "cache" / "oci"
    assert _files_under(store / "blobs") == [] and _files_under(store / ".tmp") == []


@pytest.mark.parametrize("trickle", [HEADERS, BODY_ONLY])
def test_a_trickling_source_fails_at_the_deadline(env, trickle):
    with trickling_server(trickle=trickle) as (url, asked):
        assert run_ecli("sources", "add", "slow", f"{url}/api/v1/", env=env).returncode == 0
        asked.clear()  # `sources add` read the root too, for its hub key, at the same deadline
        code, lines, seconds = _timed("update", env=env)
    assert code == 1 and DEADLINE <= seconds < DEADLINE + MARGIN, (seconds, lines)
    host = url.removeprefix("http://")
    assert _complaints(lines) == [
        f"ecli: warning: slow: {url}/api/v1/index.json: no complete answer from {host} "
        f"within {DEADLINE} s (and nothing is cached)"]
    assert asked == ["/api/v1/index.json"]
    assert _files_under(Path(env["ECLI_HOME"]) / "cache" / "index") == []


@pytest.mark.parametrize("trickle", [HEADERS, BODY_ONLY])
def test_a_trickling_url_fails_at_the_deadline(env, trickle):
    with trickling_server(trickle=trickle) as (url, _asked):
        code, lines, seconds = _timed("run", f"{url}/x.bpf.o", env=env)
    assert code == 1 and DEADLINE <= seconds < DEADLINE + MARGIN, (seconds, lines)
    host = url.removeprefix("http://")
    assert _complaints(lines) == [
        f"ecli: error: {url}/x.bpf.o: no complete answer from {host} within {DEADLINE} s"]
    cache = Path(env["ECLI_HOME"]) / "cache"
    assert _files_under(cache / "downloads") == [] and _files_under(cache / "tmp") == []


def test_the_deadline_is_set_by_the_environment_and_checked(env, index_dir):
    with serve(index_dir.parent.parent) as (base, _seen):
        assert run_ecli("sources", "add", "hub", base + "api/v1/", env=env).returncode == 0
        bad = run_ecli("update", env={**env, "ECLI_HTTP_TIMEOUT": "soon"})
        assert bad.returncode == 1
        assert _complaints(bad.stderr.splitlines()) == [
            "ecli: warning: hub: ECLI_HTTP_TIMEOUT='soon': expected a number of seconds "
            "above 0 (and nothing is cached)"]
        assert run_ecli("update", env={**env, "ECLI_HTTP_TIMEOUT": "0.5"}).returncode == 0
    assert deadline.seconds_from_environment({}) == deadline.DEFAULT_SECONDS
    assert deadline.seconds_from_environment({deadline.DEADLINE_ENV: " 2.5 "}) == 2.5
    for bad_value in ("0", "-1", "nan", "inf", "2s"):
        with pytest.raises(UsageError):
            deadline.seconds_from_environment({deadline.DEADLINE_ENV: bad_value})


def test_a_silent_tls_handshake_ends_at_the_deadline():
    with socket.socket() as silent:  # accepts (the kernel does), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        host = f"127.0.0.1:{silent.getsockname()[1]}"
        transport = HTTPTransport(deadline=1.0, connect_timeout=30, idle_timeout=30)
        start = time.monotonic()
        with pytest.raises(TransportError) as caught:
            transport.request("GET", f"https://{host}/")
        seconds = time.monotonic() - start
    assert 1.0 <= seconds < 1.0 + MARGIN
    assert (caught.value.kind, caught.value.message) == (
        "timeout", f"no complete answer from {host} within 1 s")


# -- TLS and proxies, the same on every path -------------------------------------------


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Files, quietly; a request in absolute form (from a proxy) is served as a server must."""

    def translate_path(self, path: str) -> str:
        return super().translate_path(urllib.parse.urlsplit(path).path)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _files_server(folder: Path) -> http.server.ThreadingHTTPServer:
    return http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(folder)))


def test_an_index_over_tls_is_trusted_through_certs_d(env, index_dir, tmp_path):
    cert, key = self_signed(tmp_path / "tls", "index")
    with over_tls(_files_server(index_dir.parent.parent), cert, key) as url:
        host = url.removeprefix("https://")
        assert run_ecli("sources", "add", "tls", f"{url}/api/v1/", env=env).returncode == 0
        untrusted = run_ecli("update", env=env)
        assert untrusted.returncode == 1
        assert _complaints(untrusted.stderr.splitlines()) == [
            f"ecli: warning: tls: {url}/api/v1/index.json: TLS error talking to {host}: "
            "self-signed certificate (and nothing is cached)"]
        ca = Path(env["ECLI_HOME"]) / "config" / "certs.d" / host / "ca.crt"
        ca.parent.mkdir(parents=True)
        ca.write_bytes(cert.read_bytes())
        trusted = run_ecli("update", "--json", env=env)
        assert trusted.returncode == 0, trusted.stderr
        assert json.loads(trusted.stdout)[0]["packages"] == 1
        assert run_ecli("info", "opensnoop", env=env).returncode == 0  # a package document


def test_a_url_over_tls_is_trusted_through_certs_d(env, tmp_path):
    folder = tmp_path / "files"
    obj = compile_bpf(ROOT / "tests" / "bpf" / "plain_ringbuf.bpf.c", folder)
    cert, key = self_signed(tmp_path / "tls", "files")
    with over_tls(_files_server(folder), cert, key) as url:
        ca = Path(env["ECLI_HOME"]) / "config" / "certs.d" / url.removeprefix("https://")
        ca.mkdir(parents=True)
        (ca / "ca.crt").write_bytes(cert.read_bytes())
        result = run_ecli("inspect", "--json", f"{url}/{obj.name}", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["objects"][0]["maps"]  # the real object, read back
    assert len(list((Path(env["ECLI_HOME"]) / "cache" / "downloads").iterdir())) == 1


def test_sources_go_through_the_environments_proxy(env, index_dir, tmp_path):
    cert, key = self_signed(tmp_path / "tls", "index")
    site = index_dir.parent.parent
    with serving(_files_server(site)) as plain, running_proxy() as (proxy, seen), \
            over_tls(_files_server(site), cert, key) as secure:
        tls_host = secure.removeprefix("https://")
        ca = Path(env["ECLI_HOME"]) / "config" / "certs.d" / tls_host / "ca.crt"
        ca.parent.mkdir(parents=True)
        ca.write_bytes(cert.read_bytes())
        assert run_ecli("sources", "add", "plain", f"{plain}/api/v1/", env=env).returncode == 0
        assert run_ecli("sources", "add", "tls", f"{secure}/api/v1/", env=env).returncode == 0
        proxied = {**env, "http_proxy": proxy, "HTTPS_PROXY": proxy}
        updated = run_ecli("update", "--json", env=proxied)
        assert updated.returncode == 0, updated.stderr
        assert [r["packages"] for r in json.loads(updated.stdout)] == [1, 1]
        assert set(seen) == {f"CONNECT {tls_host} HTTP/1.1",  # a tunnel per connection
                             f"GET {plain}/api/v1/index.json HTTP/1.1",
                             f"GET {plain}/api/v1/catalog.json HTTP/1.1"}
        seen.clear()
        assert run_ecli("update", env={**proxied, "NO_PROXY": "127.0.0.1"}).returncode == 0
        assert seen == []


@pytest.mark.parametrize(("netloc", "no_proxy", "bypassed"), [
    ("registry.example.com", "example.com", True),
    ("registry.example.com:443", ".example.com", True),
    ("example.com", "example.com", True),
    ("badexample.com", "example.com", False),
    ("127.0.0.1:5000", "127.0.0.1:5000", True),
    ("127.0.0.1:5001", "127.0.0.1:5000", False),
    ("127.0.0.1:5001", " localhost , 127.0.0.1", True),
    ("[::1]:5000", "::1", True),
    ("anything", "*", True),
    ("anything", "", False),
])
def test_no_proxy_matching(netloc, no_proxy, bypassed):
    assert proxies.bypassed(netloc, no_proxy) is bypassed


def test_proxy_credentials_and_bad_proxies():
    found = proxies.proxy_for("https", "ghcr.io", {"HTTPS_PROXY": "http://u%40x:p@proxy:3128"})
    assert found == proxies.Proxy("proxy:3128", {"Proxy-Authorization": "Basic dUB4OnA="})
    assert proxies.proxy_for("http", "ghcr.io", {"HTTPS_PROXY": "http://proxy"}) is None
    with pytest.raises(TransportError, match="is not an http:// URL"):
        proxies.proxy_for("https", "ghcr.io", {"all_proxy": "socks5://proxy:1080"})


# -- the seam: clients given another transport ---------------------------------------


class _Bytes:
    """A body of `data`, or of `size` spaces made on demand; counts what was read."""

    def __init__(self, data: bytes = b"", size: int | None = None) -> None:
        self.data, self.left, self.read_bytes = data, len(data) if size is None else size, 0
        self.released: bool | None = None

    def read(self, size: int) -> bytes:
        chunk = self.data[:size] if self.data else b" " * min(size, self.left)
        self.data, self.left = self.data[len(chunk):], self.left - len(chunk)
        self.read_bytes += len(chunk)
        return chunk

    def release(self, finished: bool) -> None:
        self.released = finished


class Canned:
    """A transport answering from a table: URL -> (status, headers, body) or an error."""

    def __init__(self, answers: dict[str, tuple[int, dict[str, str], _Bytes] | Exception]
                 ) -> None:
        self.answers = answers
        self.sent: list[tuple[str, dict[str, str]]] = []

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: object = None) -> Response:
        self.sent.append((url, dict(headers or {})))
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        status, fields, content = answer
        message = email.message.Message()
        for name, value in fields.items():
            message[name] = value
        reason = {200: "OK", 304: "Not Modified", 503: "Service Unavailable"}[status]
        return Response(status, reason, message, url, "hub.test", content)

    def close(self) -> None:
        pass


BASE = "https://hub.test/api/v1/"


def _client(tmp_path: Path, answers: dict) -> tuple[IndexClient, Canned]:
    paths = Paths.from_environment({"ECLI_HOME": str(tmp_path / "home")})
    add(paths.sources_file, "hub", BASE)
    canned = Canned(answers)
    return IndexClient(paths, transport=canned), canned


def _documents(tmp_path: Path) -> dict[str, bytes]:
    folder = write_index(tmp_path / "index", [package("opensnoop", "Trace open()")])
    return {name: (folder / name).read_bytes() for name in (model.ROOT_FILE,
                                                           model.CATALOG_FILE)}


def test_index_client_refuses_malformed_and_oversized_answers(tmp_path):
    documents = _documents(tmp_path)
    root = (200, {}, _Bytes(documents[model.ROOT_FILE]))
    huge = _Bytes(size=model.MAX_DOCUMENT_BYTES * 2)
    client, canned = _client(tmp_path, {BASE + "index.json": root,
                                        BASE + "catalog.json": (200, {}, huge)})
    [source] = client.sources
    with pytest.raises(SourceError, match="document is larger than 64 MiB"):
        client.update(source)
    assert huge.read_bytes == model.MAX_DOCUMENT_BYTES + 1 and huge.released is False
    canned.answers[BASE + "index.json"] = (200, {}, _Bytes(b'{"schema_version": 1,'))
    with pytest.raises(SourceError, match=r"index\.json: document is not valid JSON"):
        client.update(source)
    canned.answers[BASE + "index.json"] = (503, {}, _Bytes(b"down"))
    with pytest.raises(SourceError) as unavailable:
        client.update(source)
    assert unavailable.value.message == f"{BASE}index.json: HTTP 503 Service Unavailable"
    assert _files_under(client.paths.index_cache_dir) == []


def test_index_client_is_conditional_and_falls_back_to_its_cache(tmp_path):
    documents = _documents(tmp_path)
    client, canned = _client(tmp_path, {
        BASE + name: (200, {"ETag": f'"{name}"'}, _Bytes(raw)) for name, raw in documents.items()})
    [source] = client.sources
    assert client.update(source).changed
    canned.answers[BASE + "index.json"] = (304, {}, _Bytes())
    canned.sent.clear()
    assert not client.update(source).changed
    assert canned.sent == [(BASE + "index.json", {"If-None-Match": '"index.json"'})]
    canned.answers[BASE + "index.json"] = TransportError(
        "cannot reach hub.test: connection refused", kind="unreachable", host="hub.test",
        reason="connection refused")
    stale = client.update_or_cached(source)
    assert stale.offline_error == f"{BASE}index.json: cannot reach hub.test: connection refused"
    assert stale.packages == 1


def test_registry_pull_through_a_swapped_transport_checks_every_byte(tmp_path):
    layout = Store(tmp_path / "layout")
    obj = tmp_path / "tool.bpf.o"
    obj.write_bytes(b"\x7fELF" + os.urandom(1000))
    descriptor = artifact.create(layout, PackageConfig(name="tool", version="1", kind="bpf",
                                                       object=obj.name), [obj], tag="1")
    manifest = artifact.load(layout, descriptor.digest).manifest
    base = "http://127.0.0.1:5000/v2/team/tool"
    answers: dict = {f"{base}/manifests/1": (200, {"Content-Type": mediatypes.OCI_MANIFEST},
                                             _Bytes(layout.read_blob(descriptor.digest)))}
    for blob in manifest.blobs:
        answers[f"{base}/blobs/{blob.digest}"] = (200, {}, _Bytes(layout.read_blob(blob.digest)))
    layer = manifest.layers[0]
    answers[f"{base}/blobs/{layer.digest}"] = (200, {}, _Bytes(b"\x00" * layer.size))
    store = Store(tmp_path / "store")
    with pytest.raises(DigestMismatchError, match="digest mismatch"):
        registry.pull(reference.parse("127.0.0.1:5000/team/tool:1"), store,
                      transport=Canned(answers))
    assert not store.has(layer.digest) and store.refs() == []


@pytest.fixture
def silent_resolver(tmp_path):
    """A name server on 127.0.0.2:53 that reads every question and answers none, and a
    resolv.conf naming only it (glibc would wait 30 s for it)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.2", 53))
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 127.0.0.2\noptions timeout:30 attempts:1\n")
    try:
        yield conf
    finally:
        server.close()


def test_a_name_lookup_that_never_ends_fails_at_the_deadline(env, silent_resolver):
    """getaddrinfo takes no timeout: the lookup itself must be bounded by the deadline.
    ecli runs in a mount namespace whose /etc/resolv.conf names the silent server."""
    host = "registry.never-answers.example:5000"
    start = time.monotonic()
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(silent_resolver),
         *ecli_command("pull", f"{host}/x/y:1")],
        capture_output=True, text=True, env=env, timeout=60)
    seconds = time.monotonic() - start
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and DEADLINE <= seconds < DEADLINE + MARGIN, (seconds, lines)
    assert lines == [f"ecli: error: {host}/x/y:1: get manifest: no complete answer from "
                     f"{host} within {DEADLINE} s"]
