"""Signatures, cosign-compatible: ecli and the real cosign (v2.4.1) sign and verify each
other's, against a real registry, offline (key-based, no transparency log).

cosign is built once by `make cosign` (.run/bin/cosign, from the Go module proxy);
these tests fail, not skip, when it is missing. The bad-input corpus writes each
broken signature into the registry itself and checks the one-line error, its
reason, the exit status, and that nothing reached ecli's store.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecli.oci import mediatypes, reference, signatures
from ecli.oci import registry as oci_registry
from ecli.oci.manifest import Descriptor, Manifest, host_platform, sha256_digest
from ecli.oci.store import Store
from ecli.trust import keys

from ecli_process import ecli_command, run_ecli
from registry_server import RegistryServer
from test_registry import push_junk

pytestmark = pytest.mark.registry

ROOT = Path(__file__).resolve().parent.parent
COSIGN = ROOT / ".run" / "bin" / "cosign"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def cosign() -> Path:
    if not os.access(COSIGN, os.X_OK):
        pytest.fail(f"{COSIGN} is missing: `make cosign` builds it (the tests need the real one)")
    return COSIGN


def run_cosign(cosign: Path, *args: str, cwd: Path | None = None
               ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COSIGN_PASSWORD": PASSWORD, "COSIGN_YES": "true",
           "HOME": str(cwd or Path.cwd()), "SIGSTORE_NO_CACHE": "1"}
    return subprocess.run([str(cosign), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: Path


@pytest.fixture(scope="module")
def cosign_keys(cosign: Path, tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """`cosign generate-key-pair`: ECDSA P-256, the private key encrypted with PASSWORD."""
    folder = tmp_path_factory.mktemp("cosign-keys")
    done = run_cosign(cosign, "generate-key-pair", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert b"ENCRYPTED SIGSTORE PRIVATE KEY" in (folder / "cosign.key").read_bytes()
    return KeyPair(folder / "cosign.key", folder / "cosign.pub")


@pytest.fixture(scope="module")
def ecdsa_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return KeyPair(*keys.generate(tmp_path_factory.mktemp("ecdsa")))


@pytest.fixture(scope="module")
def ed25519_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return KeyPair(*keys.generate(tmp_path_factory.mktemp("ed25519"), "ed25519"))


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return KeyPair(*keys.generate(tmp_path_factory.mktemp("other")))


def ecli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_ecli(*args, env={**os.environ, "ECLI_HOME": str(home), **env})


def cosign_verify(cosign: Path, ref: str, public: Path) -> subprocess.CompletedProcess[str]:
    return run_cosign(cosign, "verify", "--key", str(public), "--insecure-ignore-tlog",
                      "--allow-insecure-registry", ref, cwd=public.parent)


# -- interoperability with cosign -------------------------------------------------


def test_ecli_verifies_what_cosign_signed_also_offline_after_pull(
        cosign: Path, cosign_keys: KeyPair, registry: RegistryServer, tmp_path: Path) -> None:
    ref, _, digest = push_junk(tmp_path, registry.host, "bycosign", b"signed by cosign")
    done = run_cosign(cosign, "sign", "--key", str(cosign_keys.private), "--tlog-upload=false",
                      "--allow-insecure-registry", f"{ref.name}@{digest}",
                      cwd=cosign_keys.private.parent)
    assert done.returncode == 0, done.stderr
    home = tmp_path / "home"
    verified = ecli(home, "verify", str(ref), "--key", str(cosign_keys.public), "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["digest"] == digest
    assert not Path(home, "cache").exists(), "a verification from the registry stores nothing"
    assert ecli(home, "pull", str(ref)).returncode == 0
    offline = ecli(home, "verify", str(ref), "--key", str(cosign_keys.public), "--offline",
                   "--json")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout) == json.loads(verified.stdout)


def test_offline_verification_needs_no_registry(ecdsa_keys: KeyPair, registry: RegistryServer,
                                                tmp_path: Path) -> None:
    ref, _, digest = push_junk(tmp_path, registry.host, "offline", b"offline check")
    home = tmp_path / "home"
    assert ecli(home, "sign", str(ref), "--key", str(ecdsa_keys.private)).returncode == 0
    assert ecli(home, "pull", str(ref)).returncode == 0
    # In a network namespace of its own (no interface up), only the store can answer.
    moved = subprocess.run(["unshare", "--net", *ecli_command(
        "verify", str(ref), "--key", str(ecdsa_keys.public), "--offline")],
        capture_output=True, text=True, env={**os.environ, "ECLI_HOME": str(home)}, timeout=60)
    assert moved.returncode == 0, moved.stderr
    assert f"verified {ref.name}@{digest}" in moved.stdout
    online = subprocess.run(["unshare", "--net", *ecli_command(
        "verify", str(ref), "--key", str(ecdsa_keys.public))],
        capture_output=True, text=True, env={**os.environ, "ECLI_HOME": str(home)}, timeout=60)
    assert online.returncode == 1, "without --offline it asks the registry"


def test_offline_verification_through_an_image_index(
        ecdsa_keys: KeyPair, registry: RegistryServer, tmp_path: Path) -> None:
    """cosign and ecli sign what the tag names, an index; the store tags the platform's
    manifest: --offline finds the signed index that lists it."""
    ref, _, digest = push_junk(tmp_path, registry.host, "indexed", b"behind an index")
    layout = Store(tmp_path / "indexed-layout")
    manifest_size = layout.blob_path(digest).stat().st_size
    raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": [
        {"mediaType": mediatypes.OCI_MANIFEST, "digest": digest, "size": manifest_size,
         "platform": host_platform().to_dict()}]}).encode()
    index_digest = layout.write_blob(raw)
    layout.add_ref("multi", index_digest, mediatypes.OCI_INDEX, len(raw))
    multi = reference.parse(f"{ref.name}:multi")
    oci_registry.push(layout, multi, source_ref="multi")
    home = tmp_path / "home"
    signed = ecli(home, "sign", str(multi), "--key", str(ecdsa_keys.private), "--json")
    assert json.loads(signed.stdout)["digest"] == index_digest
    pulled = json.loads(ecli(home, "pull", str(multi), "--json").stdout)
    # what the reference names (signed, pinned), and the manifest chosen for this machine
    assert (pulled["digest"], pulled["manifest"]) == (index_digest, digest)
    text = ecli(home, "pull", str(multi)).stdout
    assert f"digest {index_digest} (image index; this platform's manifest {digest})" in text
    offline = ecli(home, "verify", str(multi), "--key", str(ecdsa_keys.public), "--offline",
                   "--json")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["digest"] == index_digest
    by_digest = ecli(home, "verify", f"{ref.name}@{digest}", "--key", str(ecdsa_keys.public),
                     "--offline")
    assert by_digest.returncode == 0, by_digest.stderr


def test_generate_key_is_private_and_never_overwrites(tmp_path: Path) -> None:
    first = ecli(tmp_path / "home", "sign", "--generate-key", str(tmp_path / "k"))
    assert first.returncode == 0, first.stderr
    private = tmp_path / "k" / "ecli.key"
    assert private.stat().st_mode & 0o777 == 0o600
    before = private.read_bytes()
    again = ecli(tmp_path / "home", "sign", "--generate-key", str(tmp_path / "k"))
    assert again.returncode == 1
    assert again.stderr.splitlines() == [
        f"ecli: error: {private}: already exists; not overwriting a key"]
    assert private.read_bytes() == before


@pytest.mark.parametrize("which", ["ecdsa_keys", "cosign_keys"])
def test_cosign_verifies_what_ecli_signed(which: str, request: pytest.FixtureRequest,
                                          cosign: Path, registry: RegistryServer,
                                          tmp_path: Path) -> None:
    """A PKCS#8 key of ecli's own, and cosign's encrypted key file opened by ecli."""
    pair: KeyPair = request.getfixturevalue(which)
    ref, _, digest = push_junk(tmp_path, registry.host, f"byecli-{which[:5]}", which.encode())
    signed = ecli(tmp_path / "home", "sign", str(ref), "--key", str(pair.private),
                  COSIGN_PASSWORD=PASSWORD)
    assert signed.returncode == 0, signed.stderr
    done = cosign_verify(cosign, str(ref), pair.public)
    assert done.returncode == 0, done.stderr
    [claim] = json.loads(done.stdout)
    assert claim["critical"]["image"]["docker-manifest-digest"] == digest
    assert claim["critical"]["identity"]["docker-reference"] == ref.name


def test_cosign_key_with_a_wrong_password_is_refused_and_nothing_pushed(
        cosign_keys: KeyPair, registry: RegistryServer, tmp_path: Path) -> None:
    ref, _, _ = push_junk(tmp_path, registry.host, "badpass", b"bad password")
    done = ecli(tmp_path / "home", "sign", str(ref), "--key", str(cosign_keys.private),
                COSIGN_PASSWORD="not it")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"ecli: error: {cosign_keys.private}: wrong password for the cosign key "
        "(COSIGN_PASSWORD)"]
    assert oci_registry.pull_signatures(ref, Store(tmp_path / "s"))[1] is False


def test_ecli_and_cosign_signatures_sit_side_by_side(
        cosign: Path, cosign_keys: KeyPair, ecdsa_keys: KeyPair, registry: RegistryServer,
        tmp_path: Path) -> None:
    """Each appends to the other's signature manifest; both keys then verify, in both tools."""
    ref, _, digest = push_junk(tmp_path, registry.host, "both", b"signed twice")
    home = tmp_path / "home"
    assert ecli(home, "sign", str(ref), "--key", str(ecdsa_keys.private)).returncode == 0
    done = run_cosign(cosign, "sign", "--key", str(cosign_keys.private), "--tlog-upload=false",
                      "--allow-insecure-registry", f"{ref.name}@{digest}",
                      cwd=cosign_keys.private.parent)
    assert done.returncode == 0, done.stderr
    again = ecli(home, "sign", str(ref), "--key", str(ecdsa_keys.private), "--json")
    assert json.loads(again.stdout)["added"] is False  # same key, same payload: no new layer
    assert json.loads(again.stdout)["signatures"] == 2
    for pair in (ecdsa_keys, cosign_keys):
        assert ecli(home, "verify", str(ref), "--key", str(pair.public)).returncode == 0
        assert cosign_verify(cosign, str(ref), pair.public).returncode == 0


def test_ed25519_keys(cosign: Path, ed25519_keys: KeyPair, registry: RegistryServer,
                      tmp_path: Path) -> None:
    """ecli signs and verifies with ed25519; cosign v2.4.1 verifies ecli's ed25519 signature."""
    ref, _, _ = push_junk(tmp_path, registry.host, "edkey", b"ed25519")
    home = tmp_path / "home"
    assert ecli(home, "sign", str(ref), "--key", str(ed25519_keys.private)).returncode == 0
    assert ecli(home, "verify", str(ref), "--key", str(ed25519_keys.public)).returncode == 0
    done = cosign_verify(cosign, str(ref), ed25519_keys.public)
    assert done.returncode == 0, done.stderr


# -- bad input: each one line, exit 1, nothing stored --------------------------------


@dataclass(frozen=True)
class Case:
    """How to break the signature of an artifact, and what ecli must say."""

    id: str
    reason: str  # SignatureError.reason, or the error reference for registry errors
    says: str
    breaks: Callable[[Breaker], None]
    pull_refuses: bool = False  # a signature manifest `ecli pull` will not keep


class Breaker:
    """Writes a signature manifest of its choosing under the artifact's signature tag."""

    def __init__(self, ref: reference.OciReference, digest: str, key: KeyPair,
                 other: KeyPair, other_digest: str, registry: RegistryServer,
                 scratch: Path) -> None:
        self.ref, self.digest, self.other_digest = ref, digest, other_digest
        self.signer = keys.load_private(key.private)
        self.other = keys.load_private(other.private)
        self.registry = registry
        self.store = Store(scratch)

    def good_payload(self) -> bytes:
        return signatures.payload(self.ref.name, self.digest)

    def push(self, layers: list[tuple[bytes, str]], *,
             media_type: str = mediatypes.COSIGN_SIMPLE_SIGNING, pad: int = 0) -> None:
        """One layer per (payload, base64 signature) under the signature tag."""
        descriptors = tuple(Descriptor(media_type, self.store.write_blob(data), len(data),
                                       {signatures.SIGNATURE_ANNOTATION: sig})
                            for data, sig in layers)
        config = self.store.write_blob(b"{}")
        self.push_raw(Manifest(mediatypes.OCI_MANIFEST,
                               Descriptor(mediatypes.OCI_CONFIG, config, 2), descriptors,
                               annotations={"pad": "x" * pad} if pad else {}).to_json())

    def push_raw(self, raw: bytes) -> None:
        digest = self.store.write_blob(raw)
        media_type = json.loads(raw)["mediaType"]
        self.store.add_ref("broken", digest, media_type, len(raw))
        tag = signatures.signature_tag(self.digest)
        oci_registry.push(self.store, reference.OciReference(
            self.ref.registry, self.ref.repository, tag), source_ref="broken")

    def signed(self, data: bytes, key: keys.PrivateKey | None = None) -> tuple[bytes, str]:
        return data, base64.b64encode((key or self.signer).sign(data)).decode()


def _index(b: Breaker) -> None:
    raw = json.dumps({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX,
                      "manifests": []}).encode()
    b.push_raw(raw)


def _corrupt_in_registry(b: Breaker) -> None:
    data, sig = b.signed(b.good_payload())
    b.push([(data, sig)])
    path = b.registry.blob_data_path(sha256_digest(data))
    path.write_bytes(data.replace(b"critical", b"CRITICAL"))


CASES = [
    Case("no-signature", "no-signature", "no signature", lambda b: None),
    Case("empty-signature-manifest", "no-signature", "lists no signature",
         lambda b: b.push([])),
    Case("signature-for-another-digest", "other-digest", "is for another digest",
         lambda b: b.push([b.signed(signatures.payload(b.ref.name, b.other_digest))])),
    Case("wrong-key", "wrong-key", "not signed by the key",
         lambda b: b.push([b.signed(b.good_payload(), b.other)])),
    Case("payload-names-another-repository", "other-repository", "another repository",
         lambda b: b.push([b.signed(signatures.payload(
             f"{b.ref.registry}/elsewhere/tool", b.digest))])),
    Case("garbled-base64", "garbled", "not base64",
         lambda b: b.push([(b.good_payload(), "!!not*base64!!")])),
    Case("empty-signature", "garbled", "empty or too long",
         lambda b: b.push([(b.good_payload(), "")])),
    Case("truncated-payload", "wrong-key", "altered payload",
         lambda b: b.push([(b.good_payload()[:40], b.signed(b.good_payload())[1])])),
    Case("garbled-payload-signed", "garbled", "not a simple-signing document",
         lambda b: b.push([b.signed(b.good_payload()[:40])])),
    Case("payload-of-another-type", "garbled", "not a cosign image signature",
         lambda b: b.push([b.signed(b.good_payload().replace(
             b"cosign container image signature", b"atomic container signature"))])),
    Case("huge-payload-blob", "too-large", "more than the 65536 allowed",
         lambda b: b.push([b.signed(b.good_payload() + b" " * (1 << 20))]), True),
    Case("too-many-signatures", "too-large", "more than the 100 allowed",
         lambda b: b.push([b.signed(b.good_payload())] * 101), True),
    Case("huge-signature-manifest", "too-large", "larger than 524288 bytes",
         lambda b: b.push([b.signed(b.good_payload())], pad=600 << 10), True),
    Case("layer-that-is-not-a-signature", "garbled", "is not a signature",
         lambda b: b.push([b.signed(b.good_payload())], media_type=mediatypes.BPF_OBJECT), True),
    Case("signature-tag-holds-an-index", "garbled", "holds an image index", _index, True),
    Case("payload-corrupted-in-the-registry", "digest-mismatch", "digest mismatch",
         _corrupt_in_registry, True),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_signature_is_one_line_exit_1_nothing_stored(
        case: Case, ecdsa_keys: KeyPair, other_keys: KeyPair, registry: RegistryServer,
        tmp_path: Path) -> None:
    ref, _, digest = push_junk(tmp_path, registry.host, f"bad-{case.id}", case.id.encode())
    _, _, other_digest = push_junk(tmp_path, registry.host, f"bad-{case.id}-other",
                                   b"other " + case.id.encode())
    case.breaks(Breaker(ref, digest, ecdsa_keys, other_keys, other_digest, registry,
                        tmp_path / "scratch"))
    home = tmp_path / "home"
    done = ecli(home, "verify", str(ref), "--key", str(ecdsa_keys.public), "--json")
    assert done.returncode == 1, done.stdout
    [line] = done.stderr.splitlines()
    assert line.startswith("ecli: error: ") and case.says in line, line
    error = json.loads(done.stdout)["error"]
    assert error["reference"] in (f"signature-{case.reason}", case.reason)
    assert not (home / "cache").exists(), "nothing stored"
    # The same from the store after a pull: the signature kept beside the artifact is
    # judged the same way, or (too large, corrupted) the pull refuses to keep it.
    pulled = ecli(home, "pull", str(ref))
    if case.pull_refuses:
        assert pulled.returncode == 1 and case.says in pulled.stderr, pulled.stderr
        return
    assert pulled.returncode == 0, pulled.stderr
    offline = ecli(home, "verify", str(ref), "--key", str(ecdsa_keys.public), "--offline")
    assert offline.returncode == 1
    [line] = offline.stderr.splitlines()
    assert case.says in line, line


def test_a_key_that_is_not_one_is_one_line(registry: RegistryServer, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pub"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    done = ecli(tmp_path / "home", "verify", f"{registry.host}/x/y:1", "--key", str(junk))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"ecli: error: {junk}: not a PEM public key"]


def test_cryptography_is_not_imported_by_other_commands() -> None:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "ecli", "--help"],
                          capture_output=True, text=True, check=True)
    assert "ecli.cli" in done.stderr and "cryptography" not in done.stderr
