"""Sigstore bundles: keyless ones checked offline (a recorded real production bundle) and
key-based ones attached as OCI 1.1 referrers (`ecli sign --bundle`, and the real cosign
v3, built by `make cosign`: each verifies the other's), read through the tag-schema
fallback of a real CNCF distribution registry, which has no referrers API.

The recorded bundle (tests/sigstore/README.md) signs a wheel, not an OCI manifest: it is
verified against its digest through `ecli.trust.keyless.verify`, the function the OCI path
calls for each bundle, and attached to a real artifact to show the OCI path reading it.
The bad-input corpus writes each broken referrer into the registry and checks the one-line
error, its reason, exit status 1 and that nothing reached ecli's store.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecli.errors import SignatureError
from ecli.net.transport import HTTPTransport
from ecli.oci import mediatypes, reference, referrers
from ecli.oci import registry as oci_registry
from ecli.oci.manifest import Descriptor, sha256_digest
from ecli.oci.store import Store
from ecli.trust import bundle, keyless, keys

from ecli_process import run_ecli
from pm_fixtures import push_bundle
from registry_server import RegistryServer, upload_blob

HERE = Path(__file__).resolve().parent
RECORDED = HERE / "sigstore" / "rfc8785-0.1.2-py3-none-any.whl.sigstore"
WHEEL = "sha256:c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201"
IDENTITY = ("https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml"
            "@refs/tags/v0.1.2")
ISSUER = "https://token.actions.githubusercontent.com"
SIGNER = keyless.Identity(IDENTITY, ISSUER)


# -- keyless, offline, on a recorded real bundle -----------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any HTTP(S) sigstore-python tried would go to a closed port and fail."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")


def verify_recorded(raw: bytes, signer: keyless.Identity = SIGNER, digest: str = WHEEL) -> None:
    keyless.verify(bundle.read(raw, "recorded"), signer, "pypi/rfc8785", digest, "recorded")


def test_a_recorded_production_bundle_verifies_offline(no_network: None) -> None:
    verify_recorded(RECORDED.read_bytes())
    identity, issuer = keyless.certificate_identity(
        __import__("sigstore.models", fromlist=["Bundle"]).Bundle.from_json(
            RECORDED.read_bytes()).signing_certificate)
    assert (identity, issuer) == (IDENTITY, ISSUER)


def _tampered_signature(raw: bytes) -> bytes:
    document = json.loads(raw)
    signature = bytearray(base64.b64decode(document["messageSignature"]["signature"]))
    signature[12] ^= 1
    document["messageSignature"]["signature"] = base64.b64encode(bytes(signature)).decode()
    return json.dumps(document).encode()


def _tampered_certificate(raw: bytes) -> bytes:
    document = json.loads(raw)
    chain = document["verificationMaterial"]["x509CertificateChain"]["certificates"]
    der = bytearray(base64.b64decode(chain[0]["rawBytes"]))
    der[-20] ^= 1  # inside the CA's signature over the certificate
    chain[0]["rawBytes"] = base64.b64encode(bytes(der)).decode()
    return json.dumps(document).encode()


def _tampered_log_entry(raw: bytes) -> bytes:
    document = json.loads(raw)
    entry = document["verificationMaterial"]["tlogEntries"][0]
    entry["integratedTime"] = str(int(entry["integratedTime"]) + 1)
    return json.dumps(document).encode()


@pytest.mark.parametrize(("case", "change", "reason", "says"), [
    ("wrong-identity", lambda raw: (raw, keyless.Identity(IDENTITY + "x", ISSUER), WHEEL),
     "wrong-identity", f"signed by {IDENTITY}, not {IDENTITY}x"),
    ("wrong-issuer", lambda raw: (raw, keyless.Identity(IDENTITY, "https://accounts.google.com"),
                                  WHEEL), "wrong-issuer",
     f"identity issued by {ISSUER}, not https://accounts.google.com"),
    ("other-digest", lambda raw: (raw, SIGNER, "sha256:" + "0" * 64), "other-digest",
     f"the bundle is for another digest, {WHEEL}"),
    ("tampered-signature", lambda raw: (_tampered_signature(raw), SIGNER, WHEEL), "invalid",
     "the bundle does not verify"),
    ("tampered-certificate", lambda raw: (_tampered_certificate(raw), SIGNER, WHEEL),
     "invalid", "the bundle does not verify"),
    ("tampered-log-entry", lambda raw: (_tampered_log_entry(raw), SIGNER, WHEEL), "invalid",
     "the bundle does not verify"),
    ("truncated", lambda raw: (raw[: len(raw) // 2], SIGNER, WHEEL), "garbled",
     "not a Sigstore bundle (garbled or truncated)"),
    ("garbled", lambda raw: (b"\x00\xff" + raw[2:], SIGNER, WHEEL), "garbled",
     "not a Sigstore bundle (garbled or truncated)"),
])
def test_a_recorded_bundle_is_refused_with_one_line(
        case: str, change: Callable[[bytes], tuple[bytes, keyless.Identity, str]],
        reason: str, says: str, no_network: None) -> None:
    raw, signer, digest = change(RECORDED.read_bytes())
    with pytest.raises(SignatureError) as caught:
        verify_recorded(raw, signer, digest)
    assert caught.value.reason == reason, caught.value.message
    assert says in caught.value.message and "\n" not in caught.value.message


@pytest.mark.parametrize(("declared", "holds"), [
    (IDENTITY.replace("@refs/tags/v0.1.2", "@refs/tags/v*"), True),
    (IDENTITY.replace("@refs/tags/v0.1.2", "@refs/tags/v1.*"), False),
    (IDENTITY.replace("trailofbits", "*"), False),  # only the ref may hold a wildcard
    (IDENTITY.replace("release.yml@refs/tags/v0.1.2", "*"), False),
])
def test_an_identity_may_leave_only_its_ref_open(declared: str, holds: bool,
                                                  no_network: None) -> None:
    signer = keyless.Identity(declared, ISSUER)
    if holds:
        verify_recorded(RECORDED.read_bytes(), signer)
        return
    with pytest.raises(SignatureError) as caught:
        verify_recorded(RECORDED.read_bytes(), signer)
    assert caught.value.reason == "wrong-identity"


def test_sigstore_is_not_imported_unless_a_keyless_bundle_is_checked() -> None:
    done = subprocess.run(
        ["python3", "-c", "import sys, ecli.trust.verify, ecli.packages.signing, "
         "ecli.cli.commands.verify; print('sigstore' in sys.modules)"],
        capture_output=True, text=True, cwd=HERE.parent,
        executable=str(HERE.parent / ".venv" / "bin" / "python"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# -- key-based bundles as OCI referrers ----------------------------------------------------


@dataclass(frozen=True)
class Pushed:
    ref: str  # by tag
    digest: str
    pinned: str  # REPO@DIGEST


@pytest.fixture(scope="module")
def publisher(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return keys.generate(tmp_path_factory.mktemp("bundle-keys"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return keys.generate(tmp_path_factory.mktemp("stranger-keys"))


def pushed(registry: RegistryServer, tmp: Path, name: str, payload: bytes = b"") -> Pushed:
    digest = push_bundle(registry.host, tmp, name, "1.0.0", payload=payload)
    ref = f"{registry.host}/pm/{name}"
    return Pushed(f"{ref}:1.0.0", digest, f"{ref}@{digest}")


def ecli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_ecli(*args, env=env, stdin=subprocess.DEVNULL)


def store_blobs(env: dict[str, str]) -> list[Path]:
    folder = Path(env["ECLI_HOME"]) / "cache" / "oci" / "blobs" / "sha256"
    return sorted(folder.glob("*")) if folder.is_dir() else []


def test_ecli_signs_with_a_bundle_and_verifies_it_online_and_offline(
        registry: RegistryServer, publisher: tuple[Path, Path], stranger: tuple[Path, Path],
        env: dict[str, str], tmp_path: Path) -> None:
    art = pushed(registry, tmp_path, "bundled")
    private, public = publisher
    done = ecli(env, "sign", art.ref, "--key", str(private), "--bundle", "--json")
    assert done.returncode == 0, done.stderr
    signed = json.loads(done.stdout)
    assert signed["digest"] == art.digest and signed["added"] is True
    # the tag schema's list, as a registry without the referrers API holds it
    listing = json.loads(_get(registry, "pm/bundled", f"sha256-{art.digest[7:]}"))
    [entry] = listing["manifests"]
    assert entry["artifactType"] == mediatypes.SIGSTORE_BUNDLE
    again = ecli(env, "sign", art.ref, "--key", str(private), "--bundle", "--json")
    assert json.loads(again.stdout)["added"] is False, "same key, same digest: a no-op"
    assert len(json.loads(_get(registry, "pm/bundled",
                               f"sha256-{art.digest[7:]}"))["manifests"]) == 1
    ok = ecli(env, "verify", art.ref, "--key", str(public), "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["digest"] == art.digest
    assert ecli(env, "pull", art.ref).returncode == 0
    offline = ecli(env, "verify", art.pinned, "--key", str(public), "--offline")
    assert offline.returncode == 0, offline.stderr
    wrong = ecli(env, "verify", art.ref, "--key", str(stranger[1]))
    assert wrong.returncode == 1
    assert "bundle not signed by the key" in wrong.stderr
    keyless_wanted = ecli(env, "verify", art.ref, "--certificate-identity", IDENTITY,
                          "--certificate-oidc-issuer", ISSUER)
    assert keyless_wanted.returncode == 1
    [line] = keyless_wanted.stderr.splitlines()
    assert "the bundle is signed with a key, not a certificate" in line


def test_a_sig_signature_and_a_bundle_sit_side_by_side(
        registry: RegistryServer, publisher: tuple[Path, Path], stranger: tuple[Path, Path],
        env: dict[str, str], tmp_path: Path) -> None:
    art = pushed(registry, tmp_path, "both")
    assert ecli(env, "sign", art.ref, "--key", str(stranger[0])).returncode == 0
    assert ecli(env, "sign", art.ref, "--key", str(publisher[0]), "--bundle").returncode == 0
    for public in (publisher[1], stranger[1]):
        done = ecli(env, "verify", art.ref, "--key", str(public))
        assert done.returncode == 0, done.stderr


def test_keyless_verify_reads_a_real_bundle_attached_to_an_artifact(
        registry: RegistryServer, env: dict[str, str], tmp_path: Path) -> None:
    """The recorded bundle attached as a referrer of a real artifact: read through the tag
    schema and checked by sigstore-python, it is refused for being another digest's."""
    art = pushed(registry, tmp_path, "keylessref")
    attach(registry, art, RECORDED.read_bytes())
    done = ecli(env, "verify", art.ref, "--certificate-identity", IDENTITY,
                "--certificate-oidc-issuer", ISSUER)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("ecli: error: ") and f"the bundle is for another digest, {WHEEL}" \
        in line
    other = ecli(env, "verify", art.ref, "--certificate-identity", "me@example.com",
                 "--certificate-oidc-issuer", ISSUER)
    assert f"signed by {IDENTITY}, not me@example.com" in other.stderr
    usage = ecli(env, "verify", art.ref, "--certificate-identity", IDENTITY)
    assert usage.returncode != 0 and "--certificate-oidc-issuer" in usage.stderr
    assert store_blobs(env) == []


def attach(registry: RegistryServer, art: Pushed, data: bytes, *,
           subject: str | None = None, size: int | None = None) -> str:
    """Push `data` as a Sigstore bundle referrer of `art` (its manifest naming `subject`,
    its layer `size`), through ecli's own `registry.attach`; the manifest's digest."""
    repository = art.pinned.split("@")[0]
    host, _, name = repository.partition("/")
    upload_blob(host, name, data)
    with_subject = Descriptor(mediatypes.OCI_MANIFEST, subject or art.digest, 1)
    manifest = referrers.bundle_manifest(data, with_subject)
    if size is not None:
        layer = manifest.layers[0]
        manifest = type(manifest)(manifest.media_type, manifest.config,
                                  (Descriptor(layer.media_type, layer.digest, size),),
                                  manifest.artifact_type, subject=with_subject)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder))
        store.write_blob(mediatypes.EMPTY_CONFIG)
        store.write_blob(data)
        digest = store.write_blob(manifest.to_json())
        oci_registry.attach(reference.parse(art.pinned), store, digest, art.digest)
    return digest


def _get(registry: RegistryServer, repository: str, selector: str) -> bytes:
    request = urllib.request.Request(
        f"http://{registry.host}/v2/{repository}/manifests/{selector}",
        headers={"Accept": mediatypes.OCI_INDEX + ", " + mediatypes.OCI_MANIFEST})
    with urllib.request.urlopen(request) as answer:
        return answer.read()


def _put_listing(registry: RegistryServer, art: Pushed, entries: list[dict]) -> str:
    """Tag `sha256-HEX` of `art` holds an image index of `entries`; its digest."""
    raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                      "manifests": entries}).encode()
    repository = art.pinned.split("@")[0].partition("/")[2]
    urllib.request.urlopen(urllib.request.Request(
        f"http://{registry.host}/v2/{repository}/manifests/sha256-{art.digest[7:]}",
        data=raw, method="PUT", headers={"Content-Type": mediatypes.OCI_INDEX})).close()
    return sha256_digest(raw)


# -- cosign v3, the reference: each verifies the other's bundle ---------------------------


COSIGN3 = HERE.parent / ".run" / "cosign-v3" / "cosign"


@pytest.fixture(scope="session")
def cosign3() -> Path:
    if not COSIGN3.is_file():
        pytest.fail(f"{COSIGN3} is missing: `make cosign` builds it (the tests need the real one)")
    return COSIGN3


def run_cosign3(cosign3: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COSIGN_PASSWORD": "pw", "COSIGN_YES": "true", "HOME": str(folder)}
    return subprocess.run([str(cosign3), *args], capture_output=True, text=True, env=env,
                          cwd=folder, timeout=120)


def test_cosign_v3_verifies_the_bundle_ecli_attached(
        cosign3: Path, registry: RegistryServer, publisher: tuple[Path, Path],
        stranger: tuple[Path, Path], env: dict[str, str], tmp_path: Path) -> None:
    art = pushed(registry, tmp_path, "forcosign")
    assert ecli(env, "sign", art.ref, "--key", str(publisher[0]), "--bundle").returncode == 0
    done = run_cosign3(cosign3, tmp_path, "verify", "--key", str(publisher[1]),
                       "--insecure-ignore-tlog", "--allow-insecure-registry", art.pinned)
    assert done.returncode == 0, done.stderr
    claim = json.loads(done.stdout)[0]["critical"]
    assert claim["image"]["docker-manifest-digest"] == art.digest
    other = run_cosign3(cosign3, tmp_path, "verify", "--key", str(stranger[1]),
                        "--insecure-ignore-tlog", "--allow-insecure-registry", art.pinned)
    assert other.returncode != 0


def test_ecli_verifies_the_bundle_cosign_v3_attached(
        cosign3: Path, registry: RegistryServer, stranger: tuple[Path, Path],
        env: dict[str, str], tmp_path: Path) -> None:
    """`cosign sign --key` (v3: a bundle as a referrer, the tag schema on distribution),
    offline: a signing config with no transparency log service."""
    art = pushed(registry, tmp_path, "bycosign")
    assert run_cosign3(cosign3, tmp_path, "generate-key-pair").returncode == 0
    made = run_cosign3(cosign3, tmp_path, "signing-config", "create", "--out", "offline.json")
    assert made.returncode == 0, made.stderr
    signed = run_cosign3(cosign3, tmp_path, "sign", "--key", "cosign.key", "--signing-config",
                         "offline.json", "--allow-insecure-registry", art.pinned)
    assert signed.returncode == 0, signed.stderr
    assert _get(registry, "pm/bycosign", f"sha256-{art.digest[7:]}"), "the tag schema's list"
    done = ecli(env, "verify", art.ref, "--key", str(tmp_path / "cosign.pub"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["digest"] == art.digest
    assert ecli(env, "pull", art.ref).returncode == 0
    offline = ecli(env, "verify", art.pinned, "--key", str(tmp_path / "cosign.pub"),
                   "--offline")
    assert offline.returncode == 0, offline.stderr
    wrong = ecli(env, "verify", art.ref, "--key", str(stranger[1]))
    assert wrong.returncode == 1 and "bundle not signed by the key" in wrong.stderr


# -- the bad-input corpus ----------------------------------------------------------------


def _statement_bundle(key: Path, repository: str, digest: str) -> bytes:
    return bundle.make(keys.load_private(key), repository, digest)


@dataclass(frozen=True)
class Case:
    id: str
    reason: str
    says: str
    breaks: Callable[[RegistryServer, Pushed, Path], None]


def _for_another_digest(registry: RegistryServer, art: Pushed, key: Path) -> None:
    attach(registry, art, _statement_bundle(key, art.pinned.split("@")[0], "sha256:" + "1" * 64))


def _another_repository(registry: RegistryServer, art: Pushed, key: Path) -> None:
    attach(registry, art, _statement_bundle(key, f"{registry.host}/pm/elsewhere", art.digest))


def _manifest_for_another_subject(registry: RegistryServer, art: Pushed, key: Path) -> None:
    data = _statement_bundle(key, art.pinned.split("@")[0], art.digest)
    attach(registry, art, data, subject="sha256:" + "2" * 64)


def _garbled(registry: RegistryServer, art: Pushed, key: Path) -> None:
    attach(registry, art, b"{\"mediaType\": \"application/vnd.dev.sigstore.bundle.v0.3+json\"")


def _truncated(registry: RegistryServer, art: Pushed, key: Path) -> None:
    data = _statement_bundle(key, art.pinned.split("@")[0], art.digest)
    attach(registry, art, data[: len(data) - 40])


def _huge_bundle(registry: RegistryServer, art: Pushed, key: Path) -> None:
    data = b" " * (referrers.MAX_BUNDLE_BYTES + 1)
    attach(registry, art, data)


def _endless_bundle(registry: RegistryServer, art: Pushed, key: Path) -> None:
    """The manifest says 200 bytes; the blob behind that digest goes on for a megabyte."""
    attach(registry, art, b"x" * (1 << 20), size=200)


def _looping_list(registry: RegistryServer, art: Pushed, key: Path) -> None:
    _put_listing(registry, art, [{"mediaType": mediatypes.OCI_MANIFEST, "digest": art.digest,
                                  "size": 100, "artifactType": mediatypes.SIGSTORE_BUNDLE}])


def _nested_list(registry: RegistryServer, art: Pushed, key: Path) -> None:
    """The list names an image index: following it could go round for ever."""
    inner = _put_listing(registry, art, [])
    _put_listing(registry, art, [{"mediaType": mediatypes.OCI_INDEX, "digest": inner,
                                  "size": 100, "artifactType": mediatypes.SIGSTORE_BUNDLE}])


def _huge_list(registry: RegistryServer, art: Pushed, key: Path) -> None:
    """More entries than allowed (the registry wants each to exist: the same one, again)."""
    _put_listing(registry, art, [{"mediaType": mediatypes.OCI_MANIFEST, "digest": art.digest,
                                  "size": 100, "artifactType": mediatypes.SIGSTORE_BUNDLE}
                                 ] * (referrers.MAX_REFERRERS + 1))


def _wrong_key(registry: RegistryServer, art: Pushed, key: Path) -> None:
    attach(registry, art, _statement_bundle(key.parent.parent / "stranger" / "ecli.key",
                                            art.pinned.split("@")[0], art.digest))


CASES = [
    Case("bundle-for-another-digest", "other-digest", "the bundle is for another digest",
         _for_another_digest),
    Case("statement-names-another-repository", "other-repository",
         "the bundle names another repository", _another_repository),
    Case("referrer-of-another-manifest", "other-digest", "the bundle refers to sha256:2222",
         _manifest_for_another_subject),
    Case("garbled-bundle", "garbled", "not a Sigstore bundle (garbled or truncated)", _garbled),
    Case("truncated-bundle", "garbled", "not a Sigstore bundle (garbled or truncated)",
         _truncated),
    Case("huge-bundle", "too-large", f"more than the {referrers.MAX_BUNDLE_BYTES} allowed",
         _huge_bundle),
    Case("endless-bundle", "", "more than the 200 bytes expected", _endless_bundle),
    Case("referrers-list-loops", "garbled", "the referrers list loops", _looping_list),
    Case("referrers-list-nests-an-index", "garbled", "the referrers list loops", _nested_list),
    Case("huge-referrers-list", "too-large",
         f"{referrers.MAX_REFERRERS + 1} referrers, more than the", _huge_list),
    Case("bundle-by-another-key", "wrong-key", "bundle not signed by the key", _wrong_key),
]


@pytest.fixture(scope="module")
def corpus_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    keys.generate(folder / "publisher")
    keys.generate(folder / "stranger")
    return folder / "publisher" / "ecli.key"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_bundle_is_one_line_exit_1_nothing_stored(
        case: Case, registry: RegistryServer, corpus_keys: Path, env: dict[str, str],
        tmp_path: Path) -> None:
    art = pushed(registry, tmp_path, f"bad-{case.id}")
    case.breaks(registry, art, corpus_keys)
    done = ecli(env, "verify", art.ref, "--key", str(corpus_keys.with_suffix(".pub")),
                "--json")
    assert done.returncode == 1, done.stdout
    [line] = done.stderr.splitlines()
    assert line.startswith("ecli: error: ") and case.says in line, line
    assert "Traceback" not in done.stderr
    assert store_blobs(env) == [], "verifying from the registry keeps nothing"
    if case.reason:
        with pytest.raises(SignatureError) as caught:
            from ecli.trust.verify import verify_registry_signature

            verify_registry_signature(reference.parse(art.ref),
                                      keys.load_public(corpus_keys.with_suffix(".pub")))
        assert caught.value.reason == case.reason


# -- figures: requests a signed pull adds ------------------------------------------------


class Counting(HTTPTransport):
    """The real transport, counting the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []

    def request(self, method: str, url: str, **kwargs):  # type: ignore[no-untyped-def]
        self.requests.append(f"{method} {url}")
        return super().request(method, url, **kwargs)


def _pull_requests(ref: str, tmp: Path, signature: str | None) -> list[str]:
    transport = Counting()
    try:
        oci_registry.pull(reference.parse(ref), Store(tmp / f"store-{len(list(tmp.iterdir()))}"),
                          transport=transport, signature=signature)
    finally:
        transport.close()
    return transport.requests


def test_a_signed_pull_adds_at_most_two_requests(
        registry: RegistryServer, publisher: tuple[Path, Path], env: dict[str, str],
        tmp_path: Path) -> None:
    for name, flags in (("counted-sig", ()), ("counted-bundle", ("--bundle",))):
        art = pushed(registry, tmp_path, name)
        assert ecli(env, "sign", art.ref, "--key", str(publisher[0]), *flags).returncode == 0
        verified = ecli(env, "verify", art.pinned, "--key", str(publisher[1]), "--json")
        assert verified.returncode == 0, verified.stderr
        hint = _signature_manifest(registry, art, bool(flags))
        scratch = tmp_path / name
        scratch.mkdir()
        unsigned = _pull_requests(art.pinned, scratch, "")
        signed = _pull_requests(art.pinned, scratch, hint)
        added = signed[len(unsigned):]
        assert signed[: len(unsigned)] == unsigned
        assert len(added) == 2, added  # the signature manifest by digest, and its payload


def test_a_registry_check_asks_for_referrers_only_without_a_good_sig(
        registry: RegistryServer, publisher: tuple[Path, Path], env: dict[str, str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator checks every version in the registry: cosign's `.sig` first, and the
    referrers (two requests more) only when it does not hold a good signature."""
    from ecli.trust.verify import verify_registry_signature

    seen: list[str] = []
    send = oci_registry._Client.request

    def counting(self, method: str, url: str, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(f"{method} {url}")
        return send(self, method, url, **kwargs)

    monkeypatch.setattr(oci_registry._Client, "request", counting)
    key = keys.load_public(publisher[1])
    for name, flags, asked in (("check-sig", (), ["manifests", "blobs"]),
                               ("check-bundle", ("--bundle",),
                                ["manifests", "referrers", "manifests", "manifests", "blobs"])):
        art = pushed(registry, tmp_path, name)
        assert ecli(env, "sign", art.ref, "--key", str(publisher[0]), *flags).returncode == 0
        seen.clear()
        verified = verify_registry_signature(reference.parse(art.pinned), key)
        assert verified.digest == art.digest
        assert [line.split()[1].split("/")[1] for line in seen] == asked, seen


def _signature_manifest(registry: RegistryServer, art: Pushed, bundled: bool) -> str:
    repository = art.pinned.split("@")[0].partition("/")[2]
    if bundled:
        listing = json.loads(_get(registry, repository, f"sha256-{art.digest[7:]}"))
        return listing["manifests"][0]["digest"]
    return sha256_digest(_get(registry, repository, f"sha256-{art.digest[7:]}.sig"))


# -- a registry with the referrers API ---------------------------------------------------


@contextlib.contextmanager
def referrers_api(upstream: str) -> Iterator[tuple[str, list[str]]]:
    """The real registry behind a front that adds what CNCF distribution 2.8 lacks, the
    OCI 1.1 referrers API: manifests pushed with a `subject` are listed at
    `GET /v2/REPO/referrers/DIGEST`, as registries that have it do (no tag-schema list is
    kept). Everything else goes to the registry unchanged. Yields its host and the
    request lines it saw."""
    listed: dict[tuple[str, str], list[dict]] = {}
    seen: list[str] = []

    class Front(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            seen.append(f"{self.command} {self.path}")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            match = re.fullmatch(r"/v2/(.+)/referrers/(sha256:[0-9a-f]{64})(\?.*)?", self.path)
            if self.command == "GET" and match:
                return self._send(200, {"Content-Type": mediatypes.OCI_INDEX}, json.dumps(
                    {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                     "manifests": listed.get((match[1], match[2]), [])}).encode())
            connection = http.client.HTTPConnection(upstream, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            connection.request(self.command, self.path, body=body or None,
                               headers={**headers, "Host": self.headers["Host"]})
            answer = connection.getresponse()
            data = answer.read()
            put = re.fullmatch(r"/v2/(.+)/manifests/(.+)", self.path)
            if self.command == "PUT" and put and answer.status == 201:
                document = json.loads(body)
                if "subject" in document:
                    listed.setdefault((put[1], document["subject"]["digest"]), []).append(
                        {"mediaType": document["mediaType"], "size": len(body),
                         "digest": sha256_digest(body),
                         "artifactType": document.get("artifactType")})
            self._send(answer.status, dict(answer.getheaders()), data)
            connection.close()
            return None

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_registry_with_the_referrers_api_is_asked_through_it(
        registry: RegistryServer, publisher: tuple[Path, Path], env: dict[str, str],
        tmp_path: Path) -> None:
    with referrers_api(registry.host) as (host, seen):
        digest = push_bundle(host, tmp_path, "viaapi", "1.0.0")
        ref = f"{host}/pm/viaapi:1.0.0"
        done = ecli(env, "sign", ref, "--key", str(publisher[0]), "--bundle")
        assert done.returncode == 0, done.stderr
        tag = f"sha256-{digest[7:]}"
        assert not any(line.endswith(f"/manifests/{tag}") for line in seen), \
            "the registry lists the referrer itself: no tag-schema list is written"
        seen.clear()
        verified = ecli(env, "verify", ref, "--key", str(publisher[1]))
        assert verified.returncode == 0, verified.stderr
        assert f"GET /v2/pm/viaapi/referrers/{digest}" in [line.split("?")[0] for line in seen]
        assert f"GET /v2/pm/viaapi/manifests/{tag}" not in seen, "no tag-schema fallback"
