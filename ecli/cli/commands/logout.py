"""`ecli logout REGISTRY`: forget the credentials `ecli login` stored."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result
from ecli.errors import NotFoundError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "examples:\n  ecli logout ghcr.io"
    parser.add_argument("registry", metavar="REGISTRY", help="registry host[:port]")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.oci import credentials

    if not credentials.remove(ctx.paths, args.registry):
        raise NotFoundError(f"not logged in to {args.registry} (in ecli's credentials)",
                            hint="docker's own logins are removed with `docker logout`")
    result = Result(quiet=[])
    result.line(f"logged out of {args.registry}")
    return result
