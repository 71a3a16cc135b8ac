"""The index says who signs: the generator checks every version of a signed entry against the
key it declares (real registry, signatures made by `ecli sign` and by cosign), records signer
and signature in the lock and api/v1, and refuses one that does not verify."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from test_generator_build import api_validator
from test_signatures import KeyPair, cosign, cosign_keys, run_cosign  # noqa: F401 (fixtures)

from ecli.hubindex import model
from ecli.oci.manifest import ANNOTATION_REF_NAME
from ecli.oci.store import Store
from ecli.trust import keys
from generator import lock, rootsign

from ecli_process import run_ecli
from pm_fixtures import push_bundle
from registry_server import RegistryServer

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return KeyPair(*keys.generate(tmp_path_factory.mktemp("publisher")))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return KeyPair(*keys.generate(tmp_path_factory.mktemp("stranger")))


def sign(ref: str, key: Path) -> None:
    done = run_ecli("sign", ref, "--key", str(key), env={**os.environ})
    assert done.returncode == 0, done.stderr


def signed_index(tmp_path: Path, refs: dict[str, str], signer: str | None,
                 name: str = "tool") -> Path:
    """An index with one bundle entry `name`; `signer` is the YAML of its signer block."""
    index = tmp_path / "index"
    shutil.copytree(REPO / "index" / "schema", index / "schema", dirs_exist_ok=True)
    (index / "packages").mkdir(exist_ok=True)
    versions = "".join(f"  - {{version: {v}, ref: '{r}'}}\n" for v, r in refs.items())
    (index / "packages" / f"{name}.yaml").write_text(
        f"name: {name}\nkind: bundle\nsummary: a tool\nowners: [ebpfhub]\nlicense: MIT\n"
        + (signer or "") + f"versions:\n{versions}")
    return index


def signed_package(host: str, tmp_path: Path, repository: str, key: KeyPair
                   ) -> tuple[str, str, Path]:
    """`repository` 1.0.0 pushed and signed by `key`, in an index entry `tool` declaring
    that key: (its ref, its digest, the index folder)."""
    digest = push_bundle(host, tmp_path, repository, "1.0.0")
    ref = f"{host}/pm/{repository}:1.0.0"
    sign(ref, key.private)
    return ref, digest, signed_index(tmp_path, {"1.0.0": ref}, key_block(key.public))


def key_block(public: Path) -> str:
    lines = public.read_text().strip().splitlines()
    return "signer:\n  key: |\n" + "".join(f"    {line}\n" for line in lines)


def generator(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def build(index: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return generator("build", "--index", str(index), "--out", str(out),
                     "--config", str(REPO / "mkdocs.yml"), *extra, cwd=index.parent)


def move_signature(host: str, repository: str, source: str, target: str) -> None:
    """Tag the signature manifest of `source` as the signature of `target` (a signature
    moved from another artifact: its payload still names `source`)."""
    base = f"http://{host}/v2/{repository}/manifests/"
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    with urllib.request.urlopen(urllib.request.Request(
            base + f"sha256-{source[7:]}.sig", headers=accept)) as answer:
        raw, kind = answer.read(), answer.headers["Content-Type"]
    urllib.request.urlopen(urllib.request.Request(
        base + f"sha256-{target[7:]}.sig", data=raw, method="PUT",
        headers={"Content-Type": kind})).close()


# -- validation ----------------------------------------------------------------------


def test_a_signer_key_that_does_not_parse_is_refused_with_file_and_line(tmp_path: Path):
    index = signed_index(tmp_path, {"1.0.0": "127.0.0.1:5000/x/tool:1.0.0"},
                         "signer:\n  key: |\n    -----BEGIN PUBLIC KEY-----\n    AAAA\n"
                         "    -----END PUBLIC KEY-----\n")
    done = generator("validate", "--index", str(index), cwd=tmp_path)
    assert done.returncode != 0
    assert f"{index}/packages/tool.yaml:7:" in done.stdout + done.stderr
    assert "signer.key: signer.key: not a PEM public key [signer]" in done.stdout + done.stderr


KEYLESS = ("signer:\n  identity: https://github.com/org/tool/.github/workflows/release.yml"
           "@refs/tags/v1.0.0\n  issuer: https://token.actions.githubusercontent.com\n")


@pytest.mark.parametrize(("block", "says"), [
    ("signer: {identity: me@example.com, issuer: accounts.example}\n",
     "signer.issuer: the OIDC issuer is an https URL [signer]"),
    ("signer: {identity: me@example.com}\n", "a keyless signer needs its issuer [signer]"),
    ("signer: {identity: 'https://github.com/*/x.yml@refs/tags/v*', issuer: https://x.example}"
     "\n", "a wildcard (*) may only stand in the ref after the identity's last @"),
    ("signer: {identity: me@example.com, issuer: https://x.example, key: abc}\n",
     "a signer is a key or an identity with its issuer, not both [signer]"),
])
def test_a_keyless_signer_needs_identity_and_https_issuer(block: str, says: str,
                                                          tmp_path: Path):
    index = signed_index(tmp_path, {"1.0.0": "127.0.0.1:5000/x/tool:1.0.0"}, block)
    done = generator("validate", "--index", str(index), cwd=tmp_path)
    assert done.returncode != 0
    assert f"{index}/packages/tool.yaml:" in done.stdout + done.stderr
    assert says in done.stdout + done.stderr


def test_a_keyless_entry_fails_resolve_unless_a_certificate_signs_each_version(
        registry: RegistryServer, signing_keys: KeyPair, tmp_path: Path):
    """Valid, and checked at publish time: a version signed only with a key (a bundle, or
    the .sig tag) is not signed by the identity the entry declares."""
    push_bundle(registry.host, tmp_path, "keylesstool", "1.0.0")
    ref = f"{registry.host}/pm/keylesstool:1.0.0"
    done = run_ecli("sign", ref, "--key", str(signing_keys.private), "--bundle",
                    env={**os.environ})
    assert done.returncode == 0, done.stderr
    index = signed_index(tmp_path, {"1.0.0": ref}, KEYLESS)
    assert generator("validate", "--index", str(index), cwd=tmp_path).returncode == 0
    done = generator("resolve", "--index", str(index), cwd=tmp_path)
    assert done.returncode != 0
    assert ("tool 1.0.0: the signature does not verify: " in done.stdout
            and "the bundle is signed with a key, not a certificate" in done.stdout), done.stdout


def test_a_keyless_signer_is_published_in_api_v1_and_on_the_page():
    from generator import render

    signer = model.Signer(identity="https://github.com/org/tool/.github/workflows/r.yml@"
                          "refs/tags/v1", issuer="https://token.actions.githubusercontent.com")
    document = model.PackageDocument(schema_version=1, name="tool", summary="a tool",
                                     kind="bundle", signer=signer)
    raw = model.dump(document)
    errors = list(api_validator("package").iter_errors(json.loads(raw)))
    assert not errors, errors
    assert model.load_package(raw, "tool.json").signer == signer
    html = render._signer(document)
    assert "Signed keyless by" in html and signer.identity in html and signer.issuer in html
    keyed = json.loads(raw)
    keyed["signer"] = {"identity": None, "issuer": "https://x.example"}
    assert list(api_validator("package").iter_errors(keyed)), "half a signer is not valid"


# -- publishing ----------------------------------------------------------------------


def test_build_verifies_and_records_signer_and_signature_in_api_v1(
        registry: RegistryServer, signing_keys: KeyPair, tmp_path: Path):
    _, digest, index = signed_package(registry.host, tmp_path, "signedtool", signing_keys)
    done = build(index, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    fingerprint = keys.load_public(signing_keys.public).fingerprint()
    assert keys.pem_fingerprint(signing_keys.public.read_text()) == fingerprint
    [locked] = lock.read(index / "lock.json")["tool"].values()
    assert (locked.digest, locked.signer) == (digest, fingerprint)
    tag = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{registry.host}/pm/signedtool:sha256-"
                          f"{digest.removeprefix('sha256:')}.sig"],
                         capture_output=True, check=True).stdout
    assert locked.signature == f"sha256:{hashlib.sha256(tag).hexdigest()}"
    raw = (tmp_path / "site" / "api" / "v1" / "packages" / "tool.json").read_bytes()
    api_validator("package").validate(json.loads(raw))
    document = model.load_package(raw, "tool.json")
    assert document.signer == model.Signer(signing_keys.public.read_text().strip() + "\n",
                                           fingerprint)
    assert document.versions[0].signature == locked.signature
    page = (tmp_path / "site" / "packages" / "tool" / "index.html").read_text()
    assert f'Signed by <code class="hub-fingerprint">{fingerprint}</code>' in page
    assert "unsigned" not in page
    again = build(index, tmp_path / "site")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 registry request" in again.stdout, "nothing unchanged is verified again"


def test_build_accepts_a_version_cosign_signed(cosign: Path, cosign_keys: KeyPair,  # noqa: F811
                                               registry: RegistryServer, tmp_path: Path):
    digest = push_bundle(registry.host, tmp_path, "cosigned", "1.0.0")
    done = run_cosign(cosign, "sign", "--key", str(cosign_keys.private), "--tlog-upload=false",
                      "--allow-insecure-registry", f"{registry.host}/pm/cosigned@{digest}",
                      cwd=cosign_keys.private.parent)
    assert done.returncode == 0, done.stderr
    index = signed_index(tmp_path, {"1.0.0": f"{registry.host}/pm/cosigned:1.0.0"},
                         key_block(cosign_keys.public))
    done = generator("resolve", "--index", str(index), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    [locked] = lock.read(index / "lock.json")["tool"].values()
    assert locked.signer == keys.load_public(cosign_keys.public).fingerprint()


@pytest.mark.parametrize("case", ["unsigned", "wrong-key", "other-digest"])
def test_a_declared_signer_whose_signature_does_not_verify_fails_the_build(
        case: str, registry: RegistryServer, signing_keys: KeyPair, other_keys: KeyPair,
        tmp_path: Path):
    name = f"bad-{case}"
    mine = push_bundle(registry.host, tmp_path, name, "1.0.0")
    ref = f"{registry.host}/pm/{name}:1.0.0"
    if case == "wrong-key":
        sign(ref, other_keys.private)
    elif case == "other-digest":
        other = push_bundle(registry.host, tmp_path, name, "0.9.0", payload=b"other")
        sign(f"{registry.host}/pm/{name}@{other}", signing_keys.private)
        move_signature(registry.host, f"pm/{name}", other, mine)
    index = signed_index(tmp_path, {"1.0.0": ref}, key_block(signing_keys.public))
    done = build(index, tmp_path / "site")
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if "[signature]" in line]
    reason = {"unsigned": "no signature", "wrong-key": "not signed by the key",
              "other-digest": "the signature is for another digest"}[case]
    assert len(lines) == 1 and "tool 1.0.0: the signature does not verify" in lines[0] \
        and reason in lines[0], done.stdout + done.stderr
    assert lines[0].startswith(f"{index}/packages/tool.yaml:")
    assert not (tmp_path / "site").exists(), "nothing is published"
    assert not (index / "lock.json").exists(), "the lock is left as it was"


def test_refresh_fails_when_a_published_signature_stops_verifying(
        registry: RegistryServer, signing_keys: KeyPair, tmp_path: Path):
    _, mine, index = signed_package(registry.host, tmp_path, "refreshed", signing_keys)
    assert generator("resolve", "--index", str(index), cwd=tmp_path).returncode == 0
    pinned = (index / "lock.json").read_bytes()
    other = push_bundle(registry.host, tmp_path, "refreshed", "0.9.0", payload=b"other")
    sign(f"{registry.host}/pm/refreshed@{other}", signing_keys.private)
    move_signature(registry.host, "pm/refreshed", other, mine)
    unchanged = generator("resolve", "--index", str(index), cwd=tmp_path)
    assert unchanged.returncode == 0, "an unchanged version is not checked again"
    done = generator("resolve", "--index", str(index), "--refresh", cwd=tmp_path)
    assert done.returncode != 0
    assert "tool 1.0.0: the signature does not verify: " in done.stdout
    assert "the signature is for another digest" in done.stdout
    assert (index / "lock.json").read_bytes() == pinned


def test_an_entry_without_a_signer_still_publishes_unsigned(registry: RegistryServer,
                                                            tmp_path: Path):
    push_bundle(registry.host, tmp_path, "plain", "1.0.0")
    index = signed_index(tmp_path, {"1.0.0": f"{registry.host}/pm/plain:1.0.0"}, None)
    done = build(index, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    raw = json.loads((tmp_path / "site" / "api" / "v1" / "packages" / "tool.json").read_bytes())
    assert raw["signer"] is None and raw["versions"][0]["signature"] is None
    page = (tmp_path / "site" / "packages" / "tool" / "index.html").read_text()
    assert '<span class="hub-badge hub-danger">unsigned</span> The index declares no ' \
        "signer for this package" in page
    assert "Signed by" not in page


# -- ecli verifies by default --------------------------------------------------------


@pytest.fixture(scope="module")
def hub(registry: RegistryServer, signing_keys: KeyPair, other_keys: KeyPair,
        tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """A hub built by the generator: `signed`, `swapped` and `pinned` (signed by the
    publisher's key; `pinned`'s signature tag is later swapped like `swapped`'s, but its
    document still records the signature manifest the hub checked),
    `plain` (no signer); then, after publishing, `swapped`'s signature is replaced in the
    registry by one made for another digest (and its document no longer records which
    signature the hub checked, so ecli reads the registry's tag), and a copy of the api/v1
    folder declares another key for `signed`."""
    tmp = tmp_path_factory.mktemp("signed-hub")
    refs = {}
    for name in ("signed", "swapped", "plain", "pinned"):
        digest = push_bundle(registry.host, tmp, name, "1.0.0")
        refs[name] = (f"{registry.host}/pm/{name}:1.0.0", digest)
        if name != "plain":
            sign(refs[name][0], signing_keys.private)
    for name in ("signed", "swapped", "pinned"):
        signed_index(tmp, {"1.0.0": refs[name][0]}, key_block(signing_keys.public), name)
    signed_index(tmp, {"1.0.0": refs["plain"][0]}, None, "plain")
    done = build(tmp / "index", tmp / "site")
    assert done.returncode == 0, done.stdout + done.stderr
    other = push_bundle(registry.host, tmp, "swapped", "0.9.0", payload=b"other")
    sign(f"{registry.host}/pm/swapped@{other}", signing_keys.private)
    move_signature(registry.host, "pm/swapped", other, refs["swapped"][1])
    other = push_bundle(registry.host, tmp, "pinned", "0.9.0", payload=b"other")
    sign(f"{registry.host}/pm/pinned@{other}", signing_keys.private)
    move_signature(registry.host, "pm/pinned", other, refs["pinned"][1])
    api = tmp / "site" / "api" / "v1"
    swapped = model.load_package((api / "packages" / "swapped.json").read_bytes(), "swapped")
    (api / "packages" / "swapped.json").write_bytes(model.dump(swapped._replace(
        versions=tuple(v._replace(signature=None) for v in swapped.versions))))
    # as a hub that recorded no signature would serve it: its root lists the edited document
    rootsign.write(api, model.load_root((api / "index.json").read_bytes(), "index.json"), None)
    wrong = tmp / "wrong-key"
    shutil.copytree(api, wrong)
    document = model.load_package((api / "packages" / "signed.json").read_bytes(), "signed")
    stranger = keys.load_public(other_keys.public)
    (wrong / "packages" / "signed.json").write_bytes(model.dump(document._replace(
        signer=model.Signer(other_keys.public.read_text(), stranger.fingerprint()))))
    # the hub itself declares the other key: its root lists the document as it now is
    rootsign.write(wrong, model.load_root((wrong / "index.json").read_bytes(), "index.json"),
                   None)
    return {"api": api, "wrong": wrong,
            "fingerprint": keys.load_public(signing_keys.public).fingerprint()}


def ecli_in(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """ecli without a terminal: a question would be a refusal."""
    return run_ecli(*args, env=env, stdin=subprocess.DEVNULL)


def with_source(env: dict[str, str], folder: Path, *policy: str) -> dict[str, str]:
    done = ecli_in(env, "sources", "add", "test", str(folder), *policy)
    assert done.returncode == 0, done.stderr
    return env


def refused(done: subprocess.CompletedProcess[str], what: str) -> str:
    """The one error line of a refused command."""
    assert done.returncode != 0, done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("ecli: error:")]
    assert len(errors) == 1 and what in errors[0], done.stderr
    assert "Traceback" not in done.stderr and "hello" not in done.stdout, "nothing ran"
    return errors[0]


def installed_names(env: dict[str, str]) -> list[str]:
    listed = ecli_in(env, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return [p["name"] for p in json.loads(listed.stdout)]


def test_a_signed_hub_package_runs_and_installs_and_is_checked_again_offline(
        hub: dict[str, Path], env: dict[str, str]):
    with_source(env, hub["api"])
    ran = ecli_in(env, "run", "signed", "x")
    assert ran.returncode == 0 and ran.stdout.strip() == "hello 1.0.0 x", ran.stderr
    assert "unsigned" not in ran.stderr
    # the publisher's program, vouched for by its declared signer: shown, not asked
    assert (f"elevated   run-publisher-code  runs the publisher's program as root: it can do "
            f"anything root can (signed by {hub['fingerprint']}, as its index entry declares)"
            ) in ran.stderr
    assert "Run it?" not in ran.stderr and "dangerous" not in ran.stderr
    assert ecli_in(env, "install", "signed").returncode == 0
    assert installed_names(env) == ["signed"]
    again = ecli_in(env, "run", "--pull", "never", "signed")
    assert again.returncode == 0 and again.stdout.strip() == "hello 1.0.0", again.stderr
    assert "elevated   run-publisher-code" in again.stderr  # installed: checked again
    # pruning everything but what is installed keeps the installed package's signature
    assert ecli_in(env, "cache", "prune", "--all").returncode == 0
    kept = ecli_in(env, "run", "--pull", "never", "signed")
    assert kept.returncode == 0 and "elevated   run-publisher-code" in kept.stderr, kept.stderr
    # the check at run reads the signature kept in the store: take it away, and the
    # installed package no longer runs
    store = Store(Path(env["ECLI_HOME"]) / "cache" / "oci")
    [tag] = [name for d in store.refs()
             if (name := d.annotations.get(ANNOTATION_REF_NAME, "")).endswith(".sig")]
    assert any(Path(env["ECLI_HOME"], "cache", "verified").iterdir()), "the check is kept"
    assert store.remove_ref(tag)
    refused(ecli_in(env, "run", "--pull", "never", "signed"),
            "signed 1.0.0: signature refused: ")


@pytest.mark.parametrize("case", ["other-digest", "wrong-key"])
def test_a_bad_signature_is_refused_at_pull_run_and_install_and_nothing_is_installed(
        case: str, hub: dict[str, Path], env: dict[str, str]):
    name, folder, reason = {
        "other-digest": ("swapped", hub["api"], "the signature is for another digest"),
        "wrong-key": ("signed", hub["wrong"], "not signed by the key"),
    }[case]
    with_source(env, folder)
    for command in ("run", "install", "pull"):
        line = refused(ecli_in(env, command, name), f"{name} 1.0.0: signature refused: ")
        assert reason in line
    assert installed_names(env) == []
    store = Path(env["ECLI_HOME"]) / "cache" / "oci"
    assert not list((store / "blobs").rglob("*.*")) and not [
        p for p in (store / "blobs" / "sha256").glob("*")], "a refused pull keeps no blob"
    assert not list((store / ".tmp").glob("staging-*")), "nor its staging store"
    # refused under require too, and only `off` lets it through
    with_source(env, folder, "--signatures", "require")
    refused(ecli_in(env, "run", name), reason)
    # off checks nothing, so nothing vouches for the program: it is asked about
    with_source(env, folder, "--signatures", "off")
    refused(ecli_in(env, "run", name), "has dangerous permissions (run-publisher-code)")
    ran = ecli_in(env, "run", "--yes", name)
    assert ran.returncode == 0 and ran.stdout.strip() == "hello 1.0.0", ran.stderr


def test_the_signature_the_index_recorded_is_fetched_by_digest_whatever_the_tag_says(
        hub: dict[str, Path], env: dict[str, str]):
    """The registry's `.sig` tag of `pinned` now holds another digest's signature; ecli
    fetches the one the hub checked, by its digest, and the package runs."""
    with_source(env, hub["api"])
    ran = ecli_in(env, "run", "pinned")
    assert ran.returncode == 0 and ran.stdout.strip() == "hello 1.0.0", ran.stderr
    assert f"signed by {hub['fingerprint']}" in ran.stderr


def test_unsigned_runs_with_a_warning_by_default_and_is_refused_under_require(
        hub: dict[str, Path], env: dict[str, str]):
    with_source(env, hub["api"])
    line = refused(ecli_in(env, "run", "plain"), "plain has dangerous permissions "
                   "(run-publisher-code); not run without a terminal to confirm")
    assert line.startswith("ecli: error: ")
    ran = ecli_in(env, "run", "--yes", "plain")
    assert ran.returncode == 0 and ran.stdout.strip() == "hello 1.0.0", ran.stderr
    assert ("dangerous  run-publisher-code  runs the publisher's program as root: it can do "
            "anything root can (not signed by a signer its index entry declares)") in ran.stderr
    assert "plain 1.0.0 is unsigned: its index entry declares no signer" in ran.stderr
    with_source(env, hub["api"], "--signatures", "require")
    for command in ("run", "install"):
        refused(ecli_in(env, command, "plain"),
                "plain 1.0.0: unsigned (its index entry declares no signer), and source test "
                "requires signatures")
    assert installed_names(env) == []
    listed = ecli_in(env, "sources", "list", "--json")
    assert json.loads(listed.stdout)[0]["signatures"] == "require"
