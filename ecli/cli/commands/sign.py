"""`ecli sign REF --key FILE [--bundle]`: sign an artifact in its registry as cosign does."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result
from ecli.errors import UsageError

EXAMPLES = """examples:
  ecli sign --generate-key ./keys                        writes keys/ecli.key and keys/ecli.pub
  ecli sign 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0 --key keys/ecli.key
  COSIGN_PASSWORD=... ecli sign ghcr.io/org/tool:1.0 --key cosign.key

  ecli sign 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0 --key keys/ecli.key --bundle

By default the signature is cosign v2's: a `sha256-HEX.sig` tag in the same
repository, appended to the signatures already there (`cosign verify --key
ecli.pub` checks it). --bundle writes cosign v3's instead: a Sigstore bundle
(v0.3, the key's hint, DSSE over an in-toto statement naming the digest)
attached as an OCI 1.1 referrer, listed under tag `sha256-HEX` when the
registry has no referrers API. ecli verifies both. Keys: ECDSA P-256 or
ed25519, PKCS#8 PEM, or cosign's encrypted key file (password from
COSIGN_PASSWORD). Keyless signing (an OIDC identity, Fulcio, Rekor) is cosign's
job in CI: `cosign sign --yes REF@DIGEST` (v3); see the templates' workflows.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("reference", metavar="REF", nargs="?",
                        help="REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]")
    parser.add_argument("--key", type=Path, metavar="FILE", help="the private key")
    parser.add_argument("--bundle", action="store_true",
                        help="attach a Sigstore bundle as an OCI referrer (cosign v3) instead "
                             "of the .sig tag (cosign v2)")
    parser.add_argument("--generate-key", type=Path, metavar="DIR",
                        help="write a new key pair, DIR/ecli.key and DIR/ecli.pub, and stop")
    parser.add_argument("--ed25519", action="store_true",
                        help="with --generate-key: an ed25519 key (default ECDSA P-256)")
    parser.add_argument("--json", action="store_true",
                        help='print {"reference", "digest", "tag", "payload", "signatures", '
                             '"added"}')


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.oci import reference

    if args.generate_key:
        return _generate(args.generate_key, args.ed25519)
    if not args.reference or not args.key:
        raise UsageError("give REF and --key FILE (or --generate-key DIR)")
    from ecli.trust import keys
    from ecli.trust.sign import attach_bundle, sign_artifact

    ref = reference.parse(args.reference)
    sign = attach_bundle if args.bundle else sign_artifact
    signed = sign(ref, keys.load_private(args.key))
    verb = "signed" if signed.added else "already signed by this key:"
    result = Result(data={"reference": signed.repository, "digest": signed.digest,
                          "tag": signed.tag, "payload": signed.payload,
                          "signatures": signed.signatures, "added": signed.added},
                    quiet=[])
    result.line(f"{verb} {signed.repository}@{signed.digest} ({signed.tag}, "
                f"{signed.signatures} signature{'s' if signed.signatures != 1 else ''})")
    return result


def _generate(folder: Path, ed25519: bool) -> Result:
    from ecli.trust import keys

    private, public = keys.generate(folder, "ed25519" if ed25519 else "ecdsa-p256")
    result = Result(data={"private_key": str(private), "public_key": str(public)}, quiet=[])
    result.line(f"wrote {private} (keep it secret) and {public}")
    return result
