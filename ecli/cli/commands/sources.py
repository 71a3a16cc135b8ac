"""`ecli sources list|add|remove`: where package indexes come from."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ecli.cli.context import Context
from ecli.cli.render import Result, Text

if TYPE_CHECKING:
    from ecli.packages.sources import Source

EXAMPLES = """examples:
  ecli sources add mirror https://hub.example.org/api/v1/
  ecli sources add local ./site/api/v1 --priority 10
  ecli sources add strict https://hub.example.org/api/v1/ --signatures require
  ecli sources add hub2 https://hub.example.org/api/v1/ --key hub.pub
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
    adding.add_argument("--key", type=Path, metavar="FILE",
                        help="the hub key (PEM public key) that must sign the source's index; "
                        "without it, the key of a signed index is pinned on first use")
    removing = actions.add_parser("remove", help="remove a source")
    removing.add_argument("name")
    default = actions.add_parser("set-default", help="point the default source 'hub' elsewhere")
    default.add_argument("location", help="URL of an api/v1 index, or a local folder")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.packages import sources

    path = ctx.paths.sources_file
    if args.action == "add":
        return _add(args, ctx)
    if args.action == "set-default":
        source = sources.set_default(path, args.location)
        _forget(ctx, source.name)
        return Result([Text(f"default source {source.name}: {source.location}")], quiet=[])
    if args.action == "remove":
        sources.remove(path, args.name)
        _forget(ctx, args.name)
        return Result([Text(f"removed source {args.name}")], quiet=[])
    configured = sources.load(path)
    result = Result(data=[_plain(s) for s in configured])
    if not configured:
        result.line("no sources configured; add one with 'ecli sources add NAME URL'")
    else:
        result.table(["NAME", "PRIORITY", "SIGNATURES", "HUB KEY", "LOCATION"],
                     [(s.name, s.priority, s.signatures, _hub_key(s), s.location)
                      for s in configured])
    return result


def _add(args: argparse.Namespace, ctx: Context) -> Result:
    """Add the source, its hub key pinned: the one given, else the one its index is signed
    with (trust on first use, said so); refused when --key is given and that key does not
    sign the index it serves."""
    from ecli.cli.progress import warn
    from ecli.errors import IndexTrustError, SourceError
    from ecli.packages import sources
    from ecli.packages.index_client import IndexClient

    source = sources.prepare(args.name, args.location, args.priority, args.signatures)
    client = IndexClient(ctx.paths)
    lines = []
    if args.key is not None:
        from ecli.trust.keys import load_public

        fingerprint = load_public(args.key).fingerprint()
        signer = client.first_root(source).first_use  # unreachable, or a bad signature: refused
        if signer is None or signer.fingerprint != fingerprint:
            what = "unsigned" if signer is None else f"signed by {signer.fingerprint}"
            raise IndexTrustError(f"source {source.name}: {source.location}: its index is "
                                  f"{what}, not by --key {args.key} ({fingerprint}): refused")
        source = sources.pinned(source, args.key.read_text(), fingerprint, sources.PINNED_BY_KEY)
        lines.append(f"hub key {fingerprint} pinned (--key {args.key}): its index is signed "
                     "by it")
    else:
        try:
            first = client.first_root(source).first_use
        except SourceError as exc:
            if isinstance(exc, IndexTrustError):
                raise
            warn(f"source {source.name}: cannot read its index now ({exc.message}); a hub key "
                 "will be pinned on first use")
            first = None
        else:
            if first is None:
                lines.append("its index is unsigned: nothing authenticates its documents")
        if first is not None:
            source = sources.pinned(source, first.key, first.fingerprint,
                                    sources.PINNED_ON_FIRST_USE)
            lines.append(f"hub key {first.fingerprint} pinned on first use (trust on first "
                         "use: compare it with the fingerprint the hub publishes, or add the "
                         "source with --key FILE)")
    client.forget(source.name)
    sources.keep(ctx.paths.sources_file, source)
    return Result([Text(f"added source {source.name}: {source.location} (signatures: "
                        f"{source.signatures})"), *(Text(line) for line in lines),
                   Text("run 'ecli update' to fetch its index")], quiet=[])


def _forget(ctx: Context, name: str) -> None:
    from ecli.packages.index_client import IndexClient

    IndexClient(ctx.paths).forget(name)


def _hub_key(source: Source) -> str:
    if source.hub_key_fingerprint is None:
        return "none"
    return f"{source.hub_key_fingerprint[:19]}… ({source.hub_key_pinned})"


def _plain(source: Source) -> dict[str, object]:
    """A source as `--json` shows it: the hub key's fingerprint and how it was pinned."""
    data: dict[str, object] = {name: value for name, value in source._asdict().items()
                               if not name.startswith("hub_key")}
    data["hub_key"] = None if source.hub_key_fingerprint is None else {
        "fingerprint": source.hub_key_fingerprint, "pinned": source.hub_key_pinned}
    return data
