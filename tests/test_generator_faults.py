"""Registry faults seen by `generator resolve` and `inspect`: each is a located problem,
the lock and the inspection file stay as they were, and nothing is published.

A small misbehaving registry (http.server on 127.0.0.1) answers 500, or serves
a manifest whose bytes do not match the digest asked for; the real registry
(CNCF distribution) answers 404 for a tag that was never pushed.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from generator import lock
from generator.__main__ import main

from index_fixtures import entry_index, serving

REPO = Path(__file__).resolve().parent.parent


class _Faulty(BaseHTTPRequestHandler):
    mode = "500"
    seen: list[str]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path == "/v2/":
            self._send(200, b"{}")
        elif self.mode == "500":
            self._send(500, b'{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}')
        else:  # "mismatch": a manifest, whatever digest was asked for
            body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
            self._send(200, body, "application/vnd.oci.image.manifest.v1+json")

    do_HEAD = do_GET

    def _send(self, code: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@contextlib.contextmanager
def faulty(mode: str) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Faulty,), {"mode": mode, "seen": seen})
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), handler)) as url:
        yield url.removeprefix("http://"), seen


def test_http_500_is_retried_then_a_problem_and_the_site_stays(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with faulty("500") as (host, seen):
        index = entry_index(tmp_path, "tool", f"{host}/ebpfhub/tool:1.0.0")
        lock.write(index / "lock.json", {})
        stamp = (index / "lock.json").read_bytes()
        out = tmp_path / "site"
        out.mkdir()
        (out / "api" / "v1").mkdir(parents=True)
        (out / "api" / "v1" / "index.json").write_text("{}")  # a previous build
        assert main(["build", "--index", str(index), "--out", str(out),
                     "--config", str(REPO / "mkdocs.yml")]) == 1
    output = capsys.readouterr().out
    assert f"{index / 'packages' / 'tool.yaml'}:8:10: ref: tool 1.0.0: " in output
    assert "HTTP 500: disk on fire [resolve]" in output
    assert len([p for p in seen if "manifests" in p]) == 3  # retried with back-off
    assert (index / "lock.json").read_bytes() == stamp
    assert (out / "api" / "v1" / "index.json").read_text() == "{}"


def test_a_tag_never_pushed_is_not_found(registry, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]):
    index = entry_index(tmp_path, "tool", f"{registry.host}/ebpfhub/never-pushed:1.0.0")
    assert main(["resolve", "--index", str(index)]) == 1
    output = capsys.readouterr().out
    assert "tool 1.0.0:" in output and "not found" in output and "[resolve]" in output


def test_content_that_does_not_match_its_digest_is_refused_by_inspect(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    claimed = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    with faulty("mismatch") as (host, _):
        index = entry_index(tmp_path, "tool", f"{host}/ebpfhub/tool@{claimed}")
        assert main(["resolve", "--index", str(index)]) == 0  # a pinned digest: no request
        code = main(["inspect", "--index", str(index), "--store", str(tmp_path / "cache")])
    output = capsys.readouterr().out
    assert code == 1
    assert "tool 1.0.0" in output and "[inspect]" in output
    assert "digest" in output.lower()
    assert not (index / "inspection.json").exists()


@pytest.mark.parametrize("value", ["yesterday", "-1", "1.5", "99999999999"])
def test_a_bad_source_date_epoch_fails_the_build_before_any_work(
        value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch):
    """The hub's generation time comes from SOURCE_DATE_EPOCH when set: a bad value is one
    problem, found before the registry is asked anything, and the site stays."""
    with faulty("500") as (host, seen):
        index = entry_index(tmp_path, "tool", f"{host}/ebpfhub/tool:1.0.0")
        out = tmp_path / "site"
        (out / "api" / "v1").mkdir(parents=True)
        (out / "api" / "v1" / "index.json").write_text("{}")  # a previous build
        monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
        assert main(["build", "--index", str(index), "--out", str(out),
                     "--config", str(REPO / "mkdocs.yml")]) == 1
    output = capsys.readouterr().out
    assert (f"SOURCE_DATE_EPOCH:1:1: SOURCE_DATE_EPOCH={value!r} is not a time in whole "
            "seconds since 1970 (0 to 4294967295) [environment]") in output
    assert "Traceback" not in output and seen == []
    assert (out / "api" / "v1" / "index.json").read_text() == "{}"
