"""Trust: signing artifacts and checking their signatures (cosign-compatible, key-based).

Above the registry client and the store (it reads signatures through them),
below packages (pull, install and run will call `verify` here). The format of
a signature lives in `ecli.oci.signatures`; the keys and the only use of the
`cryptography` library in `keys` (imported lazily); cosign's encrypted key
file in `cosign_key`; making one in `sign`; checking one in `verify`.
"""
