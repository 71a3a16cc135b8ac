"""`ecli verify REF --key FILE | --certificate-identity ID --certificate-oidc-issuer URL`:
exit 0 only if REF's digest is signed by that key, or keyless by that identity."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ecli.cli.context import Context
from ecli.cli.render import Result
from ecli.errors import UsageError

if TYPE_CHECKING:
    from ecli.trust import verify

EXAMPLES = """examples:
  ecli verify 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0 --key ecli.pub
  ecli verify ghcr.io/org/tool@sha256:... --key cosign.pub --offline   (from the store)
  ecli verify ghcr.io/org/tool:1.0 \
      --certificate-identity https://github.com/org/tool/.github/workflows/rel.yml@refs/tags/v1 \
      --certificate-oidc-issuer https://token.actions.githubusercontent.com

A signature holds when the key (or, keyless, a Fulcio certificate naming exactly
that identity and issuer, logged in Rekor) verifies it and what it signs names
REF's digest and repository. Read from cosign v2's `.sig` tag and from Sigstore
bundles among REF's OCI referrers (cosign v3, `ecli sign --bundle`). Keyless
checks use the Sigstore production trust root sigstore-python ships: offline.
Otherwise one line says why, and the exit status is 1. --offline reads what
`ecli pull` kept in the local store and uses no network at all.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("reference", metavar="REF",
                        help="REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]")
    parser.add_argument("--key", type=Path, metavar="FILE",
                        help="the signer's public key (PEM: ECDSA P-256 or ed25519)")
    parser.add_argument("--certificate-identity", metavar="ID",
                        help="keyless: the identity the signing certificate must name")
    parser.add_argument("--certificate-oidc-issuer", metavar="URL",
                        help="keyless: the OIDC issuer that identity must come from")
    parser.add_argument("--offline", action="store_true",
                        help="check the signature `ecli pull` stored; no network")
    parser.add_argument("--json", action="store_true",
                        help='print {"reference", "digest", "key", "payload", "signatures"}')


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.oci import reference
    from ecli.trust import verify

    ref = reference.parse(args.reference)
    key = _signer(args)
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


def _signer(args: argparse.Namespace) -> verify.Signer:
    from ecli.trust import keys
    from ecli.trust.keyless import Identity

    identity, issuer = args.certificate_identity, args.certificate_oidc_issuer
    if args.key and not (identity or issuer):
        return keys.load_public(args.key)
    if identity and issuer and not args.key:
        return Identity(identity, issuer)
    raise UsageError("give --key FILE, or both --certificate-identity and "
                     "--certificate-oidc-issuer")
