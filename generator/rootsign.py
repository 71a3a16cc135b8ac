"""The signed root: index.json listing every other api/v1 document, signed by the hub key.

Written last, once every other document is in place, so the sha256 and size
it lists are those of the bytes published. Its `version` is the build's UTC
generation time in seconds (`generated`, so SOURCE_DATE_EPOCH makes it
reproducible): it grows with every build without a counter to keep anywhere,
which a fresh CI checkout could not do; two builds within one second share a
version, and ecli accepts an equal version (docs/security.md).

The key comes from `--hub-key FILE`, else from `HUB_SIGNING_KEY` (the PEM
itself, how CI passes a secret); without either the root is written
unsigned, as before, and the build says so.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ecli.documents import plain
from ecli.errors import SignatureError
from ecli.hubindex import model
from ecli.trust.keys import PrivateKey, load_private
from generator.problems import GeneratorError, Problem

KEY_ENV = "HUB_SIGNING_KEY"


def load_key(path: Path | None) -> PrivateKey | None:
    """The hub key from `path`, else from HUB_SIGNING_KEY, else None (unsigned)."""
    if path is not None:
        return _checked(lambda: load_private(path), str(path))
    pem = os.environ.get(KEY_ENV, "").strip()
    if not pem:
        return None
    with tempfile.TemporaryDirectory(prefix="hub-key-") as folder:  # keys.py reads files
        file = Path(folder) / "hub.key"
        file.touch(mode=0o600)
        file.write_text(pem + "\n")
        key = _checked(lambda: load_private(file), f"${KEY_ENV}", str(file))
    return PrivateKey(key.key, f"${KEY_ENV}")


def _checked(load: Callable[[], PrivateKey], where: str, shown: str | None = None
             ) -> PrivateKey:
    """`load()`, its SignatureError as the build's problem naming `where`."""
    try:
        return load()
    except SignatureError as exc:
        message = exc.message.replace(shown, where) if shown else exc.message
        raise GeneratorError([Problem(where, 1, 1, "", message, code="hub-key",
                                      hint="an ECDSA P-256 or ed25519 private key: PEM, "
                                      "or cosign's with COSIGN_PASSWORD")]) from None


def write(api_dir: Path, root: model.Root, key: PrivateKey | None) -> None:
    """index.json in `api_dir`: `root` with the digests of the documents beside it and a
    version, signed by `key` when there is one."""
    documents = {}
    for path in sorted(api_dir.rglob("*")):
        relative = path.relative_to(api_dir).as_posix()
        if path.is_file() and relative != model.ROOT_FILE:
            data = path.read_bytes()
            documents[relative] = model.DocumentDigest(hashlib.sha256(data).hexdigest(),
                                                       len(data))
    signer = None
    if key is not None:
        public = key.public()
        signer = model.Signer(public.pem(), public.fingerprint())
    root = root._replace(version=version(root.generated), documents=documents, signer=signer)
    signatures = []
    if key is not None and signer is not None:
        payload = model.root_payload(plain(root))
        signatures.append(model.RootSignature(
            signer.fingerprint, base64.b64encode(key.sign(payload)).decode()))
    (api_dir / model.ROOT_FILE).write_bytes(model.dump_root(root, signatures))


def version(generated: str) -> int:
    """The root's version: `generated` (UTC, ISO 8601 with Z) in seconds since the epoch."""
    return int(datetime.strptime(generated, "%Y-%m-%dT%H:%M:%S%z").timestamp())
