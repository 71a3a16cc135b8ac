"""Login against a real registry with htpasswd over TLS, and registry faults.

The test makes its own certificate (openssl) and registry config (auth.htpasswd
and http.tls), starts CNCF distribution with it, and checks: 401 before
login, a wrong password refused, `ecli login --ca-file` storing credentials
with mode 0600, push and pull with progress, docker's config.json read when
ecli has none, logout. A small HTTP server answers 500 for the fault case.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecli_process import run_ecli
from index_fixtures import serving
from pm_fixtures import bundle_layout
from token_server import htpasswd_registry

USER, PASSWORD = "alice", "s3cret-pass"


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    with htpasswd_registry(tmp_path_factory.mktemp("tls-registry"), {USER: PASSWORD}) as running:
        yield running


def test_login_push_pull_logout(tls_registry, env, tmp_path):
    host, cert = tls_registry
    project = tmp_path / "proj"
    bundle_layout(project / "build", "authed", "1.0.0")
    ref = f"{host}/team/authed:1.0.0"
    # loopback is plain HTTP unless a CA is configured: the error says what to do
    plain = run_ecli("push", ref, "--dir", str(project), env=env)
    assert plain.returncode == 1
    assert plain.stderr.startswith(f"ecli: error: {ref}: {host} speaks HTTPS, not plain HTTP")
    assert "--ca-file" in plain.stderr
    # with a CA that is not the registry's: a TLS error, one line
    other = Path(env["ECLI_HOME"]) / "config" / "certs.d" / host / "ca.crt"
    other.parent.mkdir(parents=True)
    other.write_bytes(Path("/etc/ssl/certs/ca-certificates.crt").read_bytes())
    untrusted = run_ecli("push", ref, "--dir", str(project), env=env)
    assert untrusted.returncode == 1
    assert untrusted.stderr.startswith(f"ecli: error: {ref}: TLS error talking to {host}")
    # a wrong password is refused and nothing is stored
    wrong = run_ecli("login", host, "-u", USER, "--password-stdin", "--ca-file", str(cert),
                     input="nope\n", env=env)
    assert wrong.returncode == 1
    assert wrong.stderr.startswith(f"ecli: error: {host}: log in: access denied (HTTP 401")
    credentials = Path(env["ECLI_HOME"]) / "config" / "auth.json"
    assert not credentials.exists()
    # trusted now (certs.d), but without credentials: 401
    denied = run_ecli("push", ref, "--dir", str(project), env=env)
    assert denied.returncode == 1 and "access denied (HTTP 401" in denied.stderr
    good = run_ecli("login", host, "-u", USER, "--password-stdin", input=PASSWORD + "\n",
                    env=env)
    assert good.returncode == 0, good.stderr
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    assert host in json.loads(credentials.read_text())["auths"]
    pushed = run_ecli("push", ref, "--dir", str(project), "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    pulled = run_ecli("pull", ref, "--json", env=env)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["digest"] == json.loads(pushed.stdout)["digest"]
    assert run_ecli("run", "--yes", ref, "x", env=env).stdout.strip() == "hello 1.0.0 x"
    assert run_ecli("logout", host, env=env).returncode == 0
    again = run_ecli("logout", host, env=env)
    assert again.returncode == 1 and "not logged in" in again.stderr
    fresh = {**env, "ECLI_HOME": env["ECLI_HOME"] + "-2"}
    (Path(fresh["ECLI_HOME"]) / "config" / "certs.d" / host).mkdir(parents=True)
    (Path(fresh["ECLI_HOME"]) / "config" / "certs.d" / host / "ca.crt").write_bytes(
        cert.read_bytes())
    denied = run_ecli("pull", ref, env=fresh)
    assert denied.returncode == 1 and "access denied" in denied.stderr
    # docker's config.json is read when ecli has no credential of its own
    docker = Path(env["DOCKER_CONFIG"])
    docker.mkdir()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {host: {"auth": token}}}))
    via_docker = run_ecli("pull", ref, "--json", env=fresh)
    assert via_docker.returncode == 0, via_docker.stderr
    # then podman's and skopeo's auth.json (containers-auth.json(5)), in their own order
    (docker / "config.json").unlink()
    containers = {"auths": {host: {"auth": token}}}
    runtime = Path(env["ECLI_HOME"] + "-run")
    (runtime / "containers").mkdir(parents=True)
    (runtime / "containers" / "auth.json").write_text(json.dumps(containers))
    for where in ({"XDG_RUNTIME_DIR": str(runtime)},
                  {"REGISTRY_AUTH_FILE": str(runtime / "containers" / "auth.json")}):
        home = {**fresh, **where, "ECLI_HOME": env["ECLI_HOME"] + "-3"}
        shutil.copytree(Path(fresh["ECLI_HOME"]) / "config", Path(home["ECLI_HOME"]) / "config",
                        dirs_exist_ok=True)
        via_podman = run_ecli("pull", ref, "--json", env=home)
        assert via_podman.returncode == 0, (where, via_podman.stderr)
        shutil.rmtree(home["ECLI_HOME"])
    elsewhere = {**fresh, "REGISTRY_AUTH_FILE": str(runtime / "none.json"),
                 "XDG_RUNTIME_DIR": str(runtime)}
    assert run_ecli("pull", ref, env=elsewhere).returncode == 1  # the variable wins


def test_login_input_errors(env):
    no_user = run_ecli("login", "127.0.0.1:1", "--password-stdin", input="x", env=env)
    assert no_user.returncode == 2 and "--username is required" in no_user.stderr
    bad_host = run_ecli("login", "not a host", "-u", "a", "--password-stdin", input="x", env=env)
    assert bad_host.returncode == 2 and "is not a registry host" in bad_host.stderr
    down = run_ecli("login", "127.0.0.1:9", "-u", "a", "--password-stdin", input="x", env=env)
    assert down.returncode == 1 and "cannot reach 127.0.0.1:9" in down.stderr


@contextlib.contextmanager
def failing_registry(code: int) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"errors": [{"code": "UNKNOWN", "message": "disk on fire"}]})
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url.removeprefix("http://")


@pytest.mark.parametrize(("code", "message"), [
    (500, "registry answered HTTP 500: disk on fire"),
    (503, "registry answered HTTP 503: disk on fire"),
    (404, "not found (HTTP 404: disk on fire)"),
    (401, "access denied (HTTP 401: disk on fire)"),
])
def test_registry_faults_are_one_line_and_store_nothing(env, code, message):
    with failing_registry(code) as host:
        result = run_ecli("pull", f"{host}/x/y:1", env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == f"ecli: error: {host}/x/y:1: get manifest: {message}"
    store = Path(env["ECLI_HOME"]) / "cache" / "oci"
    assert not (store / "blobs").exists() or not any((store / "blobs").rglob("*.*"))
    assert not (store / "index.json").exists() or "x/y" not in (store / "index.json").read_text()
