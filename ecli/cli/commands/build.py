"""`ecli build [DIR]`: compile the project and write its artifact to DIR/build/oci."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecli.cli.context import Context
from ecli.cli.render import Result, Text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR",
                        help="the project folder, holding ecli.toml (default: .)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--platform", action="append", metavar="OS/ARCH",
                        help="build for this platform instead of ecli.toml's build.platforms "
                             "(repeat for several: one image index)")
    parser.epilog = ("examples:\n  ecli build\n  ecli build ./mytool --json\n"
                     "  ecli build --platform linux/amd64 --platform linux/arm64\n\n"
                     "then: ecli push REGISTRY/REPOSITORY:TAG --dir DIR")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.develop.build import build

    built = build(Path(args.dir), args.platform)
    config = built.project.config
    result = Result(data={
        "name": config.name, "version": config.version, "kind": config.kind,
        "digest": built.digest, "object": str(built.object_path),
        "layout": str(built.layout_dir), "tag": built.tag,
        "platforms": list(built.platforms),
        "artifacts": [str(path) for path in built.artifacts],
    }, quiet=[Text(built.digest)])
    if built.compiler_output and ctx.verbose:
        result.line(built.compiler_output, multiline=True)
    result.line(f"built {config.name} {config.version} ({config.kind})")
    label = {"bpf": "object", "eunomia-json": "package"}.get(config.kind, "bundle")
    result.line(f"  {label:<7} {built.object_path}")
    if len(built.platforms) > 1:
        result.line(f"  platforms {', '.join(built.platforms)} (one image index)")
    result.line(f"  layout  {built.layout_dir} (tag {built.tag})")
    result.line(f"  digest  {built.digest}")
    return result
