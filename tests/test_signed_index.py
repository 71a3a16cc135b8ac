"""The signed index: a hub built with `--hub-key`, served over HTTP on 127.0.0.1, read by ecli.

The hub is the generator's real build of the opensnoop entry, signed with a
key made here; each test serves its own copy of api/v1. A republished root
is written by the generator's own `rootsign.write`, the way a later build
writes it. The bad-case corpus (BAD) holds what a mirror, a CDN or a man in
the middle can do: each is refused with one line naming the source, a
non-zero exit, and the cache, the pins and the accepted version as they were.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_generator_build import api_validator, write_lock

from ecli.hubindex import model
from ecli.trust.keys import generate, load_private, load_public
from generator import rootsign

from ecli_process import run_ecli
from index_fixtures import opensnoop_only_index, serve, write_index

INDEX = opensnoop_only_index()
EARLIER = "2026-01-01T00:00:00Z"
LATER = "2027-06-01T00:00:00Z"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    hub_key, hub_pub = generate(folder / "hub")
    other_key, other_pub = generate(folder / "other", "ed25519")
    return {"key": hub_key, "pub": hub_pub, "other-key": other_key, "other-pub": other_pub}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Path:
    """api/v1 of a hub built by `python -m generator build --hub-key`."""
    tmp = tmp_path_factory.mktemp("signed-build")
    out = tmp / "site"
    done = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--index", str(INDEX), "--offline",
         "--lock", str(write_lock(tmp / "lock.json")), "--out", str(out),
         "--hub-key", str(keys["key"])],
        cwd=tmp, capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "SOURCE_DATE_EPOCH": "1780000000"})
    assert done.returncode == 0, done.stdout + done.stderr
    fingerprint = load_public(keys["pub"]).fingerprint()
    assert done.stdout.rstrip().endswith(f"index signed by hub key {fingerprint}")
    return out / "api" / "v1"


@pytest.fixture
def hub(tmp_path: Path, built: Path) -> Path:
    """This test's copy of the signed hub, served from tmp_path/www."""
    api = tmp_path / "www" / "api" / "v1"
    shutil.copytree(built, api)
    return api


def root_of(api: Path) -> model.SignedRoot:
    return model.load_signed_root((api / model.ROOT_FILE).read_bytes(), "index.json")


def republish(api: Path, key: Path | None, generated: str,
              edit: Callable[[Path], None] | None = None) -> None:
    """What a later build publishes: documents edited, the root signed again by `key`."""
    if edit is not None:
        edit(api)
    rootsign.write(api, root_of(api).root._replace(generated=generated),
                   load_private(key) if key else None)
    touch_later(api / model.ROOT_FILE)


def touch_later(path: Path) -> None:
    """A modification time later than any given before: Last-Modified has a one-second
    resolution, and two republications within a second must not look alike (a 304)."""
    later = time.time() + 10 + 2 * next(_TOUCHES)
    os.utime(path, (later, later))


_TOUCHES = itertools.count()


def cache_of(env: dict[str, str]) -> Path:
    return Path(env["ECLI_HOME"]) / "cache" / "index" / "hub"


def snapshot(env: dict[str, str]) -> dict[str, bytes]:
    """Every file ecli keeps: its cache, its config (pins) and its state (versions)."""
    home = Path(env["ECLI_HOME"])
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


# --- the generator --------------------------------------------------------------------


def test_the_root_lists_every_document_and_verifies(built: Path, keys: dict[str, Path]):
    signed = root_of(built)
    root = signed.root
    files = {p.relative_to(built).as_posix(): p.read_bytes() for p in built.rglob("*")
             if p.is_file()}
    files.pop(model.ROOT_FILE)
    assert set(root.documents) == set(files) and "catalog.json" in files
    assert "packages/opensnoop.json" in files and "search/index.json" in files
    for path, data in files.items():
        assert root.documents[path] == model.DocumentDigest(hashlib.sha256(data).hexdigest(),
                                                            len(data))
    public = load_public(keys["pub"])
    assert root.version == 1780000000 and root.generated == "2026-05-28T20:26:40Z"
    assert root.signer == model.Signer(root.signer.key, public.fingerprint())
    [signature] = signed.signatures
    assert signature.keyid == public.fingerprint()
    assert public.verifies(base64.b64decode(signature.sig), signed.payload)
    assert not public.verifies(base64.b64decode(signature.sig), signed.payload + b" ")
    data = json.loads((built / model.ROOT_FILE).read_text())
    assert list(api_validator("root").iter_errors(data)) == []


def test_the_key_comes_from_the_environment_and_a_bad_one_fails_at_once(
        tmp_path: Path, keys: dict[str, Path]):
    os.environ[rootsign.KEY_ENV] = keys["key"].read_text()
    try:
        key = rootsign.load_key(None)
    finally:
        del os.environ[rootsign.KEY_ENV]
    assert key is not None and key.where == f"${rootsign.KEY_ENV}"
    assert key.public().fingerprint() == load_public(keys["pub"]).fingerprint()
    assert rootsign.load_key(None) is None
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    done = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--index", str(INDEX), "--offline",
         "--lock", str(write_lock(tmp_path / "lock.json")), "--out", str(tmp_path / "site"),
         "--hub-key", str(bad)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        check=False)
    assert done.returncode == 1
    assert done.stdout.startswith(f"{bad}:1:1: {bad}: not an unencrypted PEM private key")
    assert not (tmp_path / "site").exists()


# --- ecli: what holds -----------------------------------------------------------------


def test_pinned_key_signed_root_accepted_and_one_request_when_unchanged(
        env: dict[str, str], hub: Path, keys: dict[str, Path]):
    fingerprint = load_public(keys["pub"]).fingerprint()
    with serve(hub.parent.parent) as (base, seen):
        added = run_ecli("sources", "add", "hub", base + "api/v1/", "--key", str(keys["pub"]),
                         env=env)
        assert added.returncode == 0, added.stderr
        assert f"hub key {fingerprint} pinned (--key {keys['pub']})" in added.stdout
        assert run_ecli("update", env=env).returncode == 0
        info = run_ecli("info", "opensnoop", "--json", env=env)
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["name"] == "opensnoop"
        listed = json.loads(run_ecli("sources", "list", "--json", env=env).stdout)
        assert listed[0]["hub_key"] == {"fingerprint": fingerprint, "pinned": "--key"}
        assert "(--key)" in run_ecli("sources", "list", env=env).stdout
        seen.clear()
        assert run_ecli("update", env=env).returncode == 0
        assert seen == [("/api/v1/index.json", "304")]
        # a new root whose catalog did not change: the root is the only request
        republish(hub, keys["key"], LATER)
        seen.clear()
        again = run_ecli("update", "--json", env=env)
        assert json.loads(again.stdout)[0]["changed"] is False
        assert seen == [("/api/v1/index.json", "200")]
    versions = json.loads((Path(env["ECLI_HOME"]) / "state" / "index-versions.json").read_text())
    assert versions == {"hub": rootsign.version(LATER)}


def test_a_package_document_is_fetched_again_only_when_its_digest_changes(
        env: dict[str, str], hub: Path, keys: dict[str, Path]):
    with serve(hub.parent.parent) as (base, seen):
        run_ecli("sources", "add", "hub", base + "api/v1/", "--key", str(keys["pub"]), env=env)
        assert run_ecli("info", "opensnoop", env=env).returncode == 0
        republish(hub, keys["key"], LATER)  # nothing but the root changed
        assert run_ecli("update", env=env).returncode == 0
        seen.clear()
        assert run_ecli("info", "opensnoop", env=env).returncode == 0
        assert seen == []  # the cached document still has the listed digest

        def new_summary(api: Path) -> None:
            document = api / "packages" / "opensnoop.json"
            data = json.loads(document.read_text())
            data["summary"] = "Trace open() calls, republished"
            document.write_text(json.dumps(data))
        republish(hub, keys["key"], "2027-07-01T00:00:00Z", new_summary)
        assert run_ecli("update", env=env).returncode == 0
        seen.clear()
        info = run_ecli("info", "opensnoop", "--json", env=env)
    assert json.loads(info.stdout)["summary"] == "Trace open() calls, republished"
    assert seen == [("/api/v1/packages/opensnoop.json", "200")]


def test_trust_on_first_use_is_shown_pinned_and_enforced(
        env: dict[str, str], hub: Path, keys: dict[str, Path]):
    fingerprint = load_public(keys["pub"]).fingerprint()
    with serve(hub.parent.parent) as (base, _seen):
        added = run_ecli("sources", "add", "hub", base + "api/v1/", env=env)
        assert added.returncode == 0, added.stderr
        assert f"hub key {fingerprint} pinned on first use (trust on first use" in added.stdout
        listed = json.loads(run_ecli("sources", "list", "--json", env=env).stdout)
        assert listed[0]["hub_key"] == {"fingerprint": fingerprint, "pinned": "first use"}
        assert "(first use)" in run_ecli("sources", "list", env=env).stdout
        assert run_ecli("update", env=env).returncode == 0
        before = snapshot(env)
        republish(hub, keys["other-key"], LATER)
        refused = run_ecli("update", env=env)
    assert refused.returncode == 1
    assert f"is not signed by the pinned hub key {fingerprint}" in refused.stderr
    assert snapshot(env) == before


def test_a_source_unpinned_until_now_pins_on_its_first_update(
        env: dict[str, str], hub: Path, keys: dict[str, Path]):
    """A source added before the hub signed (or the preconfigured one): pinned by `update`."""
    fingerprint = load_public(keys["pub"]).fingerprint()
    signed = (hub / model.ROOT_FILE).read_bytes()
    republish(hub, None, EARLIER)
    with serve(hub.parent.parent) as (base, _seen):
        added = run_ecli("sources", "add", "hub", base + "api/v1/", env=env)
        assert "its index is unsigned" in added.stdout
        assert run_ecli("update", env=env).returncode == 0
        (hub / model.ROOT_FILE).write_bytes(signed)
        touch_later(hub / model.ROOT_FILE)
        updated = run_ecli("update", env=env)
    assert updated.returncode == 0, updated.stderr
    assert f"pinned its hub key {fingerprint} on first use" in updated.stderr
    listed = json.loads(run_ecli("sources", "list", "--json", env=env).stdout)
    assert listed[0]["hub_key"] == {"fingerprint": fingerprint, "pinned": "first use"}


def test_an_unsigned_hub_reads_as_before(env: dict[str, str], tmp_path: Path):
    api = write_index(tmp_path / "www" / "api" / "v1", [])
    with serve(tmp_path / "www") as (base, _seen):
        added = run_ecli("sources", "add", "hub", base + "api/v1/", env=env)
        assert added.returncode == 0 and "its index is unsigned" in added.stdout
        assert run_ecli("update", env=env).returncode == 0
    assert json.loads(run_ecli("sources", "list", "--json", env=env).stdout)[0]["hub_key"] \
        is None
    assert (api / model.ROOT_FILE).exists()


# --- the bad-case corpus ----------------------------------------------------------------


def _tamper_catalog(api: Path, keys: dict[str, Path]) -> None:
    """The hub publishes a new catalog; the mirror serves another one under the new root."""
    def grow(folder: Path) -> None:
        catalog = folder / model.CATALOG_FILE
        catalog.write_bytes(catalog.read_bytes().rstrip(b"\n") + b" \n")
    republish(api, keys["key"], LATER, grow)
    catalog = api / model.CATALOG_FILE
    catalog.write_bytes(catalog.read_bytes().replace(b'"opensnoop"', b'"evilsnoop"'))


def _tamper_package(api: Path, keys: dict[str, Path]) -> None:
    document = api / "packages" / "opensnoop.json"
    data = json.loads(document.read_text())
    data["versions"][0]["digest"] = "sha256:" + "66" * 32  # another digest to pull
    document.write_text(json.dumps(data))


def _replay(api: Path, keys: dict[str, Path]) -> None:
    republish(api, keys["key"], EARLIER)


def _other_key(api: Path, keys: dict[str, Path]) -> None:
    republish(api, keys["other-key"], LATER)


def _unsigned(api: Path, keys: dict[str, Path]) -> None:
    republish(api, None, LATER)


def _bad_signature(api: Path, keys: dict[str, Path]) -> None:
    republish(api, keys["key"], LATER)
    data = json.loads((api / model.ROOT_FILE).read_text())
    data["version"] += 1  # covered by the signature: it no longer verifies
    (api / model.ROOT_FILE).write_text(json.dumps(data))


def _garbled_signature(api: Path, keys: dict[str, Path]) -> None:
    republish(api, keys["key"], LATER)
    data = json.loads((api / model.ROOT_FILE).read_text())
    data["signatures"][0]["sig"] = "%%%" + data["signatures"][0]["sig"]
    (api / model.ROOT_FILE).write_text(json.dumps(data))


def _huge_root(api: Path, keys: dict[str, Path]) -> None:
    with open(api / model.ROOT_FILE, "ab") as file:
        file.truncate(65 << 20)


def _garbled_root(api: Path, keys: dict[str, Path]) -> None:
    (api / model.ROOT_FILE).write_bytes(b"\xff\xfe\x00{garbage")


def _bad_listing(api: Path, keys: dict[str, Path]) -> None:
    republish(api, keys["key"], LATER)
    data = json.loads((api / model.ROOT_FILE).read_text())
    data["documents"]["catalog.json"]["size"] = -1
    (api / model.ROOT_FILE).write_text(json.dumps(data))


# (id, what the server does after a good update, the command, what the error says)
BAD: list[tuple[str, Callable[[Path, dict[str, Path]], None], tuple[str, ...], str]] = [
    ("tampered-catalog", _tamper_catalog, ("update",),
     "source hub: catalog.json does not match its signed index.json"),
    ("tampered-package", _tamper_package, ("info", "opensnoop"),
     "source hub: packages/opensnoop.json does not match its signed index.json"),
    ("replayed-root", _replay, ("update",),
     f"index.json is version {1767225600}, older than version 1780000000 accepted before: "
     "refusing a replayed root"),
    ("other-key", _other_key, ("update",), "is not signed by the pinned hub key sha256:"),
    ("unsigned-downgrade", _unsigned, ("update",),
     "index.json is unsigned, but hub key sha256:"),
    ("bad-signature", _bad_signature, ("update",),
     "its signature by the pinned hub key sha256:"),
    ("garbled-signature", _garbled_signature, ("update",),
     "its signature by the pinned hub key sha256:"),
    ("huge-root", _huge_root, ("update",), "index.json: document is larger than 64 MiB"),
    ("garbled-root", _garbled_root, ("update",), "index.json: document is not valid JSON"),
    ("bad-listing", _bad_listing, ("update",), "documents['catalog.json']: field 'size' must "
     "not be negative"),
]


@pytest.mark.parametrize(("case", "damage", "command", "message"), BAD,
                         ids=[case for case, *_ in BAD])
def test_bad_case_is_refused_naming_the_source_and_nothing_is_stored(
        env: dict[str, str], hub: Path, keys: dict[str, Path], case: str,
        damage: Callable[[Path, dict[str, Path]], None], command: tuple[str, ...],
        message: str):
    with serve(hub.parent.parent) as (base, _seen):
        assert run_ecli("sources", "add", "hub", base + "api/v1/", "--key", str(keys["pub"]),
                        env=env).returncode == 0
        assert run_ecli("update", env=env).returncode == 0
        before = snapshot(env)
        damage(hub, keys)
        result = run_ecli(*command, env=env)
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len([line for line in lines if line.startswith("ecli: ")]) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert message in lines[0] and "hub" in lines[0], lines[0]
    assert snapshot(env) == before  # cache, pins and accepted version untouched


def test_sources_add_key_against_an_unsigned_hub_is_refused(
        env: dict[str, str], tmp_path: Path, keys: dict[str, Path]):
    write_index(tmp_path / "www" / "api" / "v1", [])
    with serve(tmp_path / "www") as (base, _seen):
        result = run_ecli("sources", "add", "hub", base + "api/v1/", "--key",
                          str(keys["pub"]), env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith(
        f"ecli: error: source hub: {base}api/v1/: its index is unsigned, not by --key")
    assert json.loads(run_ecli("sources", "list", "--json", env=env).stdout) == []


def test_sources_add_key_that_does_not_sign_the_hub_is_refused(
        env: dict[str, str], hub: Path, keys: dict[str, Path]):
    with serve(hub.parent.parent) as (base, _seen):
        result = run_ecli("sources", "add", "hub", base + "api/v1/", "--key",
                          str(keys["other-pub"]), env=env)
    assert result.returncode == 1
    fingerprint = load_public(keys["pub"]).fingerprint()
    assert f"its index is signed by {fingerprint}, not by --key" in result.stderr
    assert len(result.stderr.splitlines()) <= 2
    assert json.loads(run_ecli("sources", "list", "--json", env=env).stdout) == []


def test_corpus_is_big_enough():
    assert len(BAD) >= 10
