"""`ecli init DIR --template T`: start a project from a template; `--list` shows them."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result, Text
from ecli.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", metavar="DIR",
                        help="the new project folder (its name is the package name)")
    parser.add_argument("-t", "--template", default="bpf", metavar="T",
                        help="which template (default: bpf); see --list")
    parser.add_argument("--list", action="store_true", help="list the templates and exit")
    parser.add_argument("--name", help="package name (default: the folder's name)")
    parser.add_argument("--description", help="one line saying what the tool does")
    parser.add_argument("--owner", default="your-github-handle",
                        help="GitHub handle that owns the index entry")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.epilog = ("examples:\n  ecli init --list\n  ecli init mytool\n"
                     "  ecli init mytool --template go-cilium --owner octocat\n\n"
                     "then: cd DIR && ecli build . && ecli push REGISTRY/REPO:0.1.0")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.develop import scaffold

    if args.list:
        found = scaffold.templates()
        result = Result(data=[{"name": t.name, "kind": t.kind, "languages": t.languages,
                               "summary": t.summary} for t in found])
        result.table(["TEMPLATE", "KIND", "LANGUAGES", "SUMMARY"],
                     [(t.name, t.kind, t.languages, t.summary) for t in found])
        return result
    if not args.dir:
        raise UsageError("ecli init needs a folder", hint="ecli init DIR --template T "
                                                          "(ecli init --list shows templates)")
    created = scaffold.init(Path(args.dir), args.template, name=args.name,
                            description=args.description, owner=args.owner)
    result = Result(data={"template": created.template.name, "dir": str(created.root),
                          "files": list(created.files)}, quiet=[Text(str(created.root))])
    result.line(f"created {created.root} from template {created.template.name} "
                f"({created.template.kind}, {created.template.languages})")
    for name in created.files:
        result.line(f"  {name}")
    result.line(f"next: cd {args.dir} && ecli build . && sudo {created.run_command}")
    return result
