"""`ecli policy show|set|allow|trust`: what may run on this machine (ecli.packages.policy)."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result

EXAMPLES = """examples:
  ecli policy allow 'ghcr.io/org/*'            only references matching a pattern
  ecli policy allow ghcr.io/org/tool@sha256:...  or this exact digest
  ecli policy set max-permission elevated      refuse dangerous packages, even with --yes
  ecli policy trust opensnoop                  ... except this one (name, digest or REPO@DIGEST)
  ecli policy set pull never                   never contact a registry: the store only
  ecli policy reset allowed                    back to the default (everything allowed)
  ecli policy show --json                      the policy in force, and where each value came from
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    showing = actions.add_parser("show", help="the policy in force and where each value came from")
    showing.add_argument("--json", action="store_true", help="print JSON")
    setting = actions.add_parser("set", help="set max-permission or pull")
    setting.add_argument("key", choices=("max-permission", "pull"))
    setting.add_argument("value")
    allowing = actions.add_parser("allow", help="allow references matching a pattern or digest")
    allowing.add_argument("pattern")
    trusting = actions.add_parser("trust", help="let a package past max-permission")
    trusting.add_argument("entry", metavar="NAME|DIGEST|REPO@DIGEST")
    resetting = actions.add_parser("reset", help="put a key back to its default")
    resetting.add_argument("key", choices=("allowed", "trusted", "max-permission", "pull"))


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages import policy

    if args.action == "set":
        policy.set_value(ctx.paths, args.key, args.value)
        return _done(f"policy {args.key} = {args.value}")
    if args.action in ("allow", "trust"):
        key = "allowed" if args.action == "allow" else "trusted"
        entry = args.pattern if args.action == "allow" else args.entry
        policy.add_to(ctx.paths, key, entry)
        return _done(f"policy {key}: added {entry}")
    if args.action == "reset":
        policy.reset(ctx.paths, args.key)
        return _done(f"policy {args.key}: back to the default")
    shown = policy.in_force(ctx.paths)
    result = Result(data=shown)
    result.table(["KEY", "VALUE", "FROM"],
                 [(key, ", ".join(v) if isinstance(v := item["value"], list) else v,
                   item["from"]) for key, item in shown.items()])
    return result


def _done(text: str) -> Result:
    result = Result(quiet=[])
    result.line(text)
    return result
