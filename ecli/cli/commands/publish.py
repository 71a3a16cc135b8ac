"""`ecli publish --index PATH --ref REF [DIR]`: the index pull request for a new version."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ecli.cli.context import Context


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n"
                     "  ecli publish --index ../ebpf-hub-index --ref ghcr.io/me/mytool:1.0.0\n"
                     "  ecli publish ./mytool --index ../hub --ref ghcr.io/me/mytool:1.0.0 --no-pr")
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR",
                        help="the project folder, holding ecli.toml (default: .)")
    parser.add_argument("--index", required=True, metavar="PATH",
                        help="a git checkout of the hub's index repository")
    parser.add_argument("--ref", required=True, metavar="REF",
                        help="where the version was pushed: REGISTRY/REPOSITORY:TAG")
    parser.add_argument("--no-pin", action="store_true",
                        help="record REF as given, without the digest of the local build")
    parser.add_argument("--branch", help="the branch to commit on (default: publish/NAME-VERSION)")
    parser.add_argument("--no-pr", action="store_true",
                        help="only print the pull-request command, even when gh is installed")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.cli.render import print_json
    from ecli.develop.publish import publish

    result = publish(Path(args.dir), Path(args.index), args.ref, pin=not args.no_pin,
                     branch=args.branch, open_pr=not args.no_pr)
    command = shlex.join(result.pr_command)
    push = shlex.join(["git", "-C", args.index, "push", "-u", "origin", result.branch])
    if args.json:
        print_json({"entry": str(result.entry), "created": result.created, "ref": result.ref,
                    "branch": result.branch, "commit": result.commit,
                    "pr_opened": result.pr_opened, "pr_command": result.pr_command})
        return 0
    if ctx.quiet:
        print(result.branch)
        return 0
    action = "added" if result.created else "updated"
    print(f"{action} {result.entry} ({result.ref})")
    print(f"validated and committed {result.commit[:12]} on branch {result.branch}")
    if result.pr_opened:
        print(f"pull request: {result.pr_output}")
    else:
        print("open the pull request:")
        print(f"  {push}")
        print(f"  cd {shlex.quote(args.index)} && {command}")
    return 0
