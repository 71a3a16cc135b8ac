"""`ecli publish --index PATH --ref REF [DIR]`: the index pull request for a new version."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result, Text


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
                        help="record REF as given, without the registry's digest (it is "
                        "still checked to exist and hold this version)")
    parser.add_argument("--branch", help="the branch to commit on (default: publish/NAME-VERSION)")
    parser.add_argument("--no-pr", action="store_true",
                        help="only print the pull-request command, even when gh is installed")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.develop.publish import publish

    published = publish(Path(args.dir), Path(args.index), args.ref, pin=not args.no_pin,
                        branch=args.branch, open_pr=not args.no_pr)
    command = shlex.join(published.pr_command)
    push = shlex.join(["git", "-C", args.index, "push", "-u", "origin", published.branch])
    result = Result(data={"entry": str(published.entry), "created": published.created,
                          "ref": published.ref, "branch": published.branch,
                          "commit": published.commit, "pr_opened": published.pr_opened,
                          "pr_command": published.pr_command},
                    quiet=[Text(published.branch)])
    action = "added" if published.created else "updated"
    result.line(f"{action} {published.entry} ({published.ref})")
    result.line(f"validated and committed {published.commit[:12]} on branch "
                f"{published.branch}")
    if published.pr_opened:
        result.line(f"pull request: {published.pr_output}", multiline=True)
    else:
        result.line("open the pull request:")
        result.line(f"  {push}")
        result.line(f"  cd {shlex.quote(args.index)} && {command}")
    return result
