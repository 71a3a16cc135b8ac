"""Bearer-token auth against the real registry, credential helpers, and the HTTP transport.

The registry is CNCF distribution configured with `auth: token` and a token
server of our own over TLS (tests/token_server.py) whose JWTs it verifies.
Login, push and pull go through the whole flow; a wrong password, a token
server that is down and credential helpers that fail are one-line errors.
The transport is checked against small HTTP servers on 127.0.0.1: redirects
to another host lose the Authorization header, connections are kept alive,
a server that never answers times out.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecli.errors import TransportError
from ecli.net.transport import HTTPTransport
from ecli.oci import auth

from ecli_process import run_ecli
from index_fixtures import serving
from net_servers import running_proxy
from pm_fixtures import bundle_layout
from token_server import htpasswd_registry, token_registry

pytestmark = pytest.mark.registry

USER, PASSWORD = "bob", "t0ken-pass"


@pytest.fixture(scope="module")
def tokened(tmp_path_factory):
    folder = tmp_path_factory.mktemp("token-registry")
    with token_registry(folder, {USER: PASSWORD}, {"identity-of-bob": USER}) as running:
        yield running


def _store_is_empty(env: dict[str, str]) -> bool:
    blobs = Path(env["ECLI_HOME"]) / "cache" / "oci" / "blobs"
    return not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


def _sorted_actions(scope: str) -> str:
    """A scope with its actions sorted: distribution writes them in either order."""
    resource, _, actions = scope.rpartition(":")
    return f"{resource}:{','.join(sorted(actions.split(',')))}"


def test_token_flow_login_push_pull(tokened, env, tmp_path):
    host, cert, tokens = tokened
    bundle_layout(tmp_path / "proj" / "build", "tokened", "1.0.0")
    ref = f"{host}/team/tokened:1.0.0"
    credentials = Path(env["ECLI_HOME"]) / "config" / "auth.json"
    # a wrong password: the token server refuses it, one line, nothing stored
    wrong = run_ecli("login", host, "-u", USER, "--password-stdin", "--ca-file", str(cert),
                     input="wrong\n", env=env)
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines()[0] == (
        f"ecli: error: {host}: log in: access denied by {tokens.realm} "
        "(HTTP 401: bad user name or password)")
    assert "Traceback" not in wrong.stderr and not credentials.exists()
    # anonymous: the token grants nothing, the registry refuses
    anonymous = run_ecli("push", ref, "--dir", str(tmp_path / "proj"), env=env)
    assert anonymous.returncode == 1
    assert anonymous.stderr.startswith(f"ecli: error: {ref}: check blob ")
    assert "access denied (HTTP 401" in anonymous.stderr
    good = run_ecli("login", host, "-u", USER, "--password-stdin", input=PASSWORD + "\n",
                    env=env)
    assert good.returncode == 0, good.stderr
    assert host in json.loads(credentials.read_text())["auths"]
    tokens.seen.clear()
    pushed = run_ecli("push", ref, "--dir", str(tmp_path / "proj"), "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    # a pull-scoped token for the first HEAD, a pull+push one when the upload asks: no more
    assert [[_sorted_actions(scope) for scope in seen["scope"]] for seen in tokens.seen] == [
        ["repository:team/tokened:pull"], ["repository:team/tokened:pull,push"]]
    assert {seen["user"] for seen in tokens.seen} == {USER}
    assert {seen["service"] for seen in tokens.seen} == {"ebpfhub-test-registry"}
    tokens.seen.clear()
    pulled = run_ecli("pull", ref, "--json", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == json.loads(pushed.stdout)["digest"]
    assert len(tokens.seen) == 1  # cached for every later request of the client
    assert run_ecli("run", "--yes", ref, "x", env=env).stdout.strip() == "hello 1.0.0 x"
    # a fresh store with the credentials gone: the registry refuses the anonymous token
    assert run_ecli("logout", host, env=env).returncode == 0
    fresh = {**env, "ECLI_HOME": env["ECLI_HOME"] + "-2", "ECLI_CA_FILE": str(cert)}
    denied = run_ecli("pull", ref, env=fresh)
    assert denied.returncode == 1 and "access denied (HTTP 401" in denied.stderr
    assert _store_is_empty(fresh)


def test_identity_token_from_a_credential_helper(tokened, env, tmp_path):
    """docker's `<token>` user: the secret is traded at the realm for an access token."""
    host, cert, tokens = tokened
    bundle_layout(tmp_path / "proj" / "build", "identity", "2.0.0")
    env = {**credential_helper(tmp_path, env, host, "<token>", "identity-of-bob"),
           "ECLI_CA_FILE": str(cert)}
    tokens.seen.clear()
    ref = f"{host}/team/identity:2.0.0"
    pushed = run_ecli("push", ref, "--dir", str(tmp_path / "proj"), env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert tokens.seen and {seen.get("grant") for seen in tokens.seen} == {"refresh_token"}
    assert run_ecli("pull", ref, env=env).returncode == 0


def test_token_server_down_is_one_line(env, tmp_path):
    with token_registry(tmp_path / "reg", {USER: PASSWORD}) as (host, cert, tokens):
        tokens.stop.close()
        fresh = {**env, "ECLI_CA_FILE": str(cert)}
        result = run_ecli("pull", f"{host}/team/any:1", env=fresh)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == (
        f"ecli: error: {host}/team/any:1: cannot get a token from {tokens.realm}: "
        "connection refused")
    assert _store_is_empty(fresh)


# -- credential helpers -------------------------------------------------------------


def credential_helper(tmp_path: Path, env: dict[str, str], host: str, user: str,
                      secret: str, *, fail: str = "") -> dict[str, str]:
    """`docker-credential-test` on PATH, named by a DOCKER_CONFIG's credHelpers for `host`.

    It logs the server it is asked about to `helper.log`; with `fail`, it
    prints that and exits 1.
    """
    folder = tmp_path / "helper-bin"
    folder.mkdir(exist_ok=True)
    log = tmp_path / "helper.log"
    answer = json.dumps({"ServerURL": host, "Username": user, "Secret": secret})
    action = f'echo "{fail}" >&2; exit 1' if fail else f"echo '{answer}'"
    script = folder / "docker-credential-test"
    script.write_text(f"""#!/bin/sh
test "$1" = get || exit 2
read -r server
echo "$server" >> {log}
if [ "$server" != "{host}" ]; then echo "credentials not found in native keychain"; exit 1; fi
{action}
""")
    script.chmod(0o755)
    docker = Path(env["DOCKER_CONFIG"])
    docker.mkdir(parents=True, exist_ok=True)
    (docker / "config.json").write_text(json.dumps({"credHelpers": {host: "test"}}))
    return {**env, "PATH": f"{folder}:{env['PATH']}"}


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory):
    with htpasswd_registry(tmp_path_factory.mktemp("helper-registry"),
                           {USER: PASSWORD}) as running:
        yield running


def test_credential_helper_against_htpasswd_registry(htpasswd, env, tmp_path):
    host, cert = htpasswd
    bundle_layout(tmp_path / "proj" / "build", "helped", "1.0.0")
    env = {**credential_helper(tmp_path, env, host, USER, PASSWORD), "ECLI_CA_FILE": str(cert)}
    ref = f"{host}/team/helped:1.0.0"
    pushed = run_ecli("push", ref, "--dir", str(tmp_path / "proj"), env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert run_ecli("pull", ref, env=env).returncode == 0
    assert set((tmp_path / "helper.log").read_text().split()) == {host}
    assert not (Path(env["ECLI_HOME"]) / "config" / "auth.json").exists()


@pytest.mark.parametrize(("helper", "message"), [
    ("fails", "the credential helper docker-credential-test failed: keychain locked"),
    ("missing", "the credential helper docker-credential-nothere is not installed"),
    ("wrong", "access denied (HTTP 401: authentication required)"),
])
def test_credential_helper_faults_are_one_line(htpasswd, env, tmp_path, helper, message):
    host, cert = htpasswd
    env = credential_helper(tmp_path, env, host, USER,
                            "not-the-password" if helper == "wrong" else PASSWORD,
                            fail="keychain locked" if helper == "fails" else "")
    if helper == "missing":
        (Path(env["DOCKER_CONFIG"]) / "config.json").write_text(
            json.dumps({"credHelpers": {host: "nothere"}}))
    env["ECLI_CA_FILE"] = str(cert)
    result = run_ecli("pull", f"{host}/team/helped:1.0.0", env=env)
    assert result.returncode == 1
    assert len([line for line in result.stderr.splitlines() if "error" in line]) == 1
    assert result.stderr.startswith("ecli: error: ") and message in result.stderr
    assert _store_is_empty(env)


# -- challenges ---------------------------------------------------------------------


def test_parse_challenge() -> None:
    parsed = auth.parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"')
    assert parsed == auth.Challenge("bearer", {
        "realm": "https://auth.example/token", "service": "registry.example",
        "scope": "repository:a/b:pull,push repository:c:pull", "error": "insufficient_scope"})
    assert auth.parse_challenge('Basic realm="r\\"q"') == auth.Challenge("basic",
                                                                         {"realm": 'r"q'})
    assert auth.parse_challenge("  ") is None


# -- the transport --------------------------------------------------------------------


@contextlib.contextmanager
def http_server(routes: dict[str, tuple[int, dict[str, str], bytes]]
                ) -> Iterator[tuple[str, list[dict[str, object]]]]:
    """An HTTP/1.1 server answering `routes` (path -> status, headers, body); records
    each request's path, Authorization header and client port (one port per connection)."""
    seen: list[dict[str, object]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                         "port": self.client_address[1]})
            status, headers, body = routes.get(self.path, (404, {}, b"no"))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url, seen


def test_redirects_drop_authorization_on_another_host() -> None:
    payload = os.urandom(200_000)
    with http_server({"/blob": (200, {}, payload)}) as (storage, stored_seen), \
            http_server({"/v2/x/blobs/d": (307, {"Location": f"{storage}/blob"}, b""),
                         "/same": (302, {"Location": "/v2/x/blobs/d"}, b"")}) as (front, seen):
        transport = HTTPTransport()
        response = transport.request("GET", f"{front}/same",
                                     headers={"Authorization": "Bearer secret"})
        with response:
            body = b"".join(response.iter_chunks())
        transport.close()
    assert body == payload and response.status == 200 and response.url == f"{storage}/blob"
    # kept on the same host, dropped on the way to storage
    assert [s["auth"] for s in seen] == ["Bearer secret", "Bearer secret"]
    assert [s["auth"] for s in stored_seen] == [None]


def test_connections_are_kept_alive() -> None:
    with http_server({"/a": (200, {}, b"a" * 10), "/missing-body": (404, {}, b"x" * 100)}
                     ) as (base, seen):
        transport = HTTPTransport()
        for path in ("/a", "/missing-body", "/a", "/a"):
            transport.request("GET", base + path).close()  # small bodies are drained
        transport.close()
    assert len(seen) == 4 and len({s["port"] for s in seen}) == 1


def test_silent_server_times_out_and_refused_port_is_unreachable() -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        transport = HTTPTransport(connect_timeout=1.0, idle_timeout=0.3)
        with pytest.raises(TransportError) as caught:
            transport.request("GET", f"http://127.0.0.1:{port}/v2/")
        assert caught.value.kind == "timeout" and caught.value.host == f"127.0.0.1:{port}"
    with pytest.raises(TransportError) as refused:
        HTTPTransport().request("GET", f"http://127.0.0.1:{port}/v2/")
    assert (refused.value.kind, refused.value.reason) == ("unreachable", "connection refused")
    with pytest.raises(TransportError) as dns:
        HTTPTransport().request("GET", "https://no-such-host.invalid/v2/")
    assert dns.value.kind == "unreachable" and "\n" not in str(dns.value)


# -- progress -----------------------------------------------------------------------


def _on_terminal(command: tuple[str, ...], env: dict[str, str]) -> tuple[int, str]:
    """Run `ecli COMMAND` with stderr on a pseudo-terminal; (exit code, what it drew)."""
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "ecli", *command], stderr=follower,
                              stdout=subprocess.DEVNULL, env=env, timeout=120)
    finally:
        os.close(follower)
    drawn = b""
    with contextlib.suppress(OSError):  # EIO once the terminal has nothing left
        while chunk := os.read(leader, 65536):
            drawn += chunk
    os.close(leader)
    return done.returncode, drawn.decode(errors="replace")


def test_push_and_pull_draw_progress_for_big_blobs(registry, env, tmp_path):
    bundle_layout(tmp_path / "proj" / "build", "big", "1.0.0", os.urandom(3 << 20))
    ref = f"{registry.host}/team/big:1.0.0"
    code, drawn = _on_terminal(("push", ref, "--dir", str(tmp_path / "proj")), env)
    assert code == 0, drawn
    assert "bundle.tar.gz" in drawn and "3.0 MiB/3.0 MiB" in drawn
    code, drawn = _on_terminal(("pull", ref), env)
    assert code == 0, drawn
    assert "bundle.tar.gz" in drawn and "3.0 MiB/3.0 MiB" in drawn


def test_unknown_host_is_one_line_naming_host_and_reference(env):
    result = run_ecli("pull", "no-such-host.invalid/team/x:1", env=env)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("ecli: error: no-such-host.invalid/team/x:1: cannot reach "
                            "no-such-host.invalid: ")
    assert "Errno" not in first and _store_is_empty(env)


# -- proxies ------------------------------------------------------------------------


def test_proxies_from_the_environment(registry, htpasswd, env, tmp_path):
    host, cert = htpasswd
    bundle_layout(tmp_path / "proj" / "build", "proxied", "1.0.0")
    tls_ref, plain_ref = f"{host}/team/proxied:1.0.0", f"{registry.host}/team/proxied:1.0.0"
    env = {**credential_helper(tmp_path, env, host, USER, PASSWORD), "ECLI_CA_FILE": str(cert)}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy"):
        env.pop(name, None)
    with running_proxy() as (proxy, seen):
        proxied = {**env, "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy}
        pushed = run_ecli("push", tls_ref, "--dir", str(tmp_path / "proj"), env=proxied)
        assert pushed.returncode == 0, pushed.stderr
        # one tunnel, kept alive for the whole push
        assert len(seen) == 1 and seen[0].startswith(f"CONNECT {host} HTTP/")
        seen.clear()
        no_ca = {k: v for k, v in proxied.items() if k != "ECLI_CA_FILE"}
        plain = run_ecli("pull", plain_ref, env=no_ca)
        assert plain.returncode == 1 and "not found" in plain.stderr  # reached, through it
        assert seen and all(line.startswith(f"GET http://{registry.host}/v2/")
                            for line in seen)
        seen.clear()
        bypassed = run_ecli("pull", tls_ref, env={**proxied, "NO_PROXY": "127.0.0.1"})
        assert bypassed.returncode == 0, bypassed.stderr
        assert seen == []
    down = run_ecli("pull", plain_ref, env=no_ca)
    port = proxy.rsplit(":", 1)[1]
    assert down.returncode == 1
    assert down.stderr.splitlines()[0] == (
        f"ecli: error: {plain_ref}: cannot reach {registry.host}: connection refused "
        f"(through the proxy 127.0.0.1:{port})")
