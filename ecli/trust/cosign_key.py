"""cosign's encrypted private key file, opened with its password.

`cosign generate-key-pair` writes PEM of type ENCRYPTED SIGSTORE PRIVATE KEY
(ENCRYPTED COSIGN PRIVATE KEY before v1.12) whose body is
go-securesystemslib's `encrypted` JSON: a key derived with scrypt from the
password and salt, and a PKCS#8 DER key sealed with NaCl's secretbox
(XSalsa20 + Poly1305: the tag first, then the ciphertext).

`cryptography` has scrypt and Poly1305 but no XSalsa20, so the stream cipher
is here, in plain Python: a key file is a few hundred bytes, a few blocks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import struct

from ecli.errors import SignatureError

PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
MAX_SCRYPT_N = 1 << 17  # 128 MiB of memory at r=8; cosign uses 32768
_SIGMA = struct.unpack("<4I", b"expand 32-byte k")
_MASK = 0xFFFFFFFF


def is_cosign_key(pem: bytes) -> bool:
    return any(f"-----BEGIN {kind}-----".encode() in pem for kind in PEM_TYPES)


def decrypt(pem: bytes, password: bytes, where: str) -> bytes:
    """The DER private key inside a cosign key file; a wrong password is an error."""
    try:
        text = pem.decode("ascii")
        body = "".join(line for line in text.strip().splitlines()[1:-1] if ":" not in line)
        document = json.loads(base64.b64decode(body, validate=True))
        kdf, cipher = document["kdf"], document["cipher"]
        params = kdf["params"]
        n, r, p = int(params["N"]), int(params["r"]), int(params["p"])
        salt = base64.b64decode(kdf["salt"], validate=True)
        nonce = base64.b64decode(cipher["nonce"], validate=True)
        sealed = base64.b64decode(document["ciphertext"], validate=True)
        ok = kdf["name"] == "scrypt" and cipher["name"] == "nacl/secretbox" and len(nonce) == 24
    except (UnicodeDecodeError, binascii.Error, json.JSONDecodeError, KeyError, TypeError,
            ValueError):
        raise SignatureError(f"{where}: a garbled cosign key file", reason="key") from None
    if not ok or n > MAX_SCRYPT_N or r > 32 or p > 16 or len(sealed) < 16:
        raise SignatureError(f"{where}: an unsupported cosign key file", reason="key")
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password)
    message = secretbox_open(sealed, nonce, key)
    if message is None:
        raise SignatureError(f"{where}: wrong password for the cosign key (COSIGN_PASSWORD)",
                             reason="key")
    return message


def secretbox_open(sealed: bytes, nonce: bytes, key: bytes) -> bytes | None:
    """NaCl's crypto_secretbox_open: the message, or None when the tag does not match."""
    from cryptography.hazmat.primitives.poly1305 import Poly1305

    tag, ciphertext = sealed[:16], sealed[16:]
    subkey = _hsalsa20(key, nonce[:16])
    stream = _salsa20_stream(subkey, nonce[16:], 32 + len(ciphertext))
    if not hmac.compare_digest(Poly1305.generate_tag(stream[:32], ciphertext), tag):
        return None
    return bytes(c ^ s for c, s in zip(ciphertext, stream[32:], strict=True))


def _rounds(state: list[int]) -> list[int]:
    x = list(state)

    def quarter(a: int, b: int, c: int, d: int) -> None:
        x[b] ^= _rotl((x[a] + x[d]) & _MASK, 7)
        x[c] ^= _rotl((x[b] + x[a]) & _MASK, 9)
        x[d] ^= _rotl((x[c] + x[b]) & _MASK, 13)
        x[a] ^= _rotl((x[d] + x[c]) & _MASK, 18)

    for _ in range(10):
        quarter(0, 4, 8, 12)
        quarter(5, 9, 13, 1)
        quarter(10, 14, 2, 6)
        quarter(15, 3, 7, 11)
        quarter(0, 1, 2, 3)
        quarter(5, 6, 7, 4)
        quarter(10, 11, 8, 9)
        quarter(15, 12, 13, 14)
    return x


def _rotl(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (32 - shift))) & _MASK


def _state(key: bytes, middle: bytes) -> list[int]:
    k = struct.unpack("<8I", key)
    m = struct.unpack("<4I", middle)
    return [_SIGMA[0], *k[:4], _SIGMA[1], *m, _SIGMA[2], *k[4:], _SIGMA[3]]


def _hsalsa20(key: bytes, nonce16: bytes) -> bytes:
    x = _rounds(_state(key, nonce16))
    return struct.pack("<8I", x[0], x[5], x[10], x[15], x[6], x[7], x[8], x[9])


def _salsa20_stream(key: bytes, nonce8: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        state = _state(key, nonce8 + struct.pack("<Q", counter))
        mixed = _rounds(state)
        out += struct.pack("<16I", *((a + b) & _MASK for a, b in zip(mixed, state, strict=True)))
        counter += 1
    return bytes(out[:length])
