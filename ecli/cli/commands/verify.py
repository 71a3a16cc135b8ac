"""`ecli verify REF --key FILE`: exit 0 only if REF's digest is signed by that key."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result

EXAMPLES = """examples:
  ecli verify 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0 --key ecli.pub
  ecli verify ghcr.io/org/tool@sha256:... --key cosign.pub --offline   (from the store)

A signature holds when the key verifies it and its payload names REF's digest
and repository (cosign's `.sig` tag, as `cosign sign --key` and `ecli sign`
write it). Otherwise one line says why, and the exit status is 1. --offline
reads what `ecli pull` kept in the local store and uses no network.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("reference", metavar="REF",
                        help="REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]")
    parser.add_argument("--key", type=Path, metavar="FILE", required=True,
                        help="the signer's public key (PEM: ECDSA P-256 or ed25519)")
    parser.add_argument("--offline", action="store_true",
                        help="check the signature `ecli pull` stored; no network")
    parser.add_argument("--json", action="store_true",
                        help='print {"reference", "digest", "key", "payload", "signatures"}')


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.oci import reference
    from ecli.trust import keys, verify

    ref = reference.parse(args.reference)
    key = keys.load_public(args.key)
    if args.offline:
        from ecli.oci.store import Store

        verified = verify.verify_stored_signature(Store(ctx.paths.oci_store_dir), ref, key)
    else:
        verified = verify.verify_registry_signature(ref, key)
    result = Result(data={"reference": verified.repository, "digest": verified.digest,
                          "key": verified.key, "payload": verified.payload,
                          "signatures": verified.signatures}, quiet=[])
    result.line(f"verified {verified.repository}@{verified.digest}: signed by {verified.key}")
    return result
