"""`ecli build [DIR]`: compile the project and write its artifact to DIR/build/oci."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecli.cli.context import Context


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR",
                        help="the project folder, holding ecli.toml (default: .)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.epilog = ("examples:\n  ecli build\n  ecli build ./mytool --json\n\n"
                     "then: ecli push REGISTRY/REPOSITORY:TAG --dir DIR")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.develop.build import build

    result = build(Path(args.dir))
    config = result.project.config
    if args.json:
        print(json.dumps({
            "name": config.name, "version": config.version, "kind": config.kind,
            "digest": result.digest, "object": str(result.object_path),
            "layout": str(result.layout_dir), "tag": result.tag,
            "platforms": list(result.platforms),
            "artifacts": [str(path) for path in result.artifacts],
        }))
        return 0
    if result.compiler_output and ctx.verbose:
        print(result.compiler_output)
    if ctx.quiet:
        print(result.digest)
        return 0
    print(f"built {config.name} {config.version} ({config.kind})")
    label = "object" if config.kind == "bpf" else "bundle"
    print(f"  {label:<7} {result.object_path}")
    if len(result.platforms) > 1:
        print(f"  platforms {', '.join(result.platforms)} (one image index)")
    print(f"  layout  {result.layout_dir} (tag {result.tag})")
    print(f"  digest  {result.digest}")
    return 0
