"""`ecli sources list|add|remove`: where package indexes come from."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

EXAMPLES = """examples:
  ecli sources add mirror https://hub.example.org/api/v1/
  ecli sources add local ./site/api/v1 --priority 10
  ecli sources add strict https://hub.example.org/api/v1/ --signatures require
  ecli sources list --json
  ecli sources set-default https://mirror.example.org/api/v1/
  ecli sources remove hub            (the preconfigured public hub)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="show the configured sources")
    listing.add_argument("--json", action="store_true", help="print JSON")
    adding = actions.add_parser("add", help="add or replace a source")
    adding.add_argument("name", help="a short name for the source")
    adding.add_argument("location", help="URL of an api/v1 index, or a local folder")
    adding.add_argument("--priority", type=int, default=100,
                        help="lower is searched first (default 100)")
    adding.add_argument("--signatures", choices=("require", "warn", "off"), default="warn",
                        help="unsigned packages: refuse (require), run with a warning (warn, "
                        "the default), or check nothing (off); a bad signature is refused "
                        "unless off")
    removing = actions.add_parser("remove", help="remove a source")
    removing.add_argument("name")
    default = actions.add_parser("set-default", help="point the default source 'hub' elsewhere")
    default.add_argument("location", help="URL of an api/v1 index, or a local folder")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages import sources

    path = ctx.paths.sources_file
    if args.action == "add":
        source = sources.add(path, args.name, args.location, args.priority, args.signatures)
        return Result([Text(f"added source {source.name}: {source.location} (signatures: "
                            f"{source.signatures})"),
                       Text("run 'ecli update' to fetch its index")], quiet=[])
    if args.action == "set-default":
        source = sources.set_default(path, args.location)
        return Result([Text(f"default source {source.name}: {source.location}")], quiet=[])
    if args.action == "remove":
        sources.remove(path, args.name)
        return Result([Text(f"removed source {args.name}")], quiet=[])
    configured = sources.load(path)
    result = Result(data=[asdict(s) for s in configured])
    if not configured:
        result.line("no sources configured; add one with 'ecli sources add NAME URL'")
    else:
        result.table(["NAME", "PRIORITY", "SIGNATURES", "LOCATION"],
                     [(s.name, s.priority, s.signatures, s.location) for s in configured])
    return result
