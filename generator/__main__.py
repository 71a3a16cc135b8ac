"""`python -m generator validate|resolve|build`: the only place that prints.

Exit codes: 0 success, 1 problems found (each printed as
`path:line:col: field: message [code]` with a hint), 2 bad command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from generator import commands
from generator.problems import GeneratorError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m generator",
                                  description="Validate the eBPF Hub index and build its site.")
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--index", type=Path, default=Path("index"),
                       help="the index folder (default: index)")

    check = sub.add_parser("validate", help="check entries; print every problem")
    common(check)
    check.add_argument("files", nargs="*", type=Path,
                       help="only these entry files (default: every index/packages/*.yaml)")

    for name, text in (("resolve", "resolve tags to digests into the lock"),
                       ("build", "build the site and api/v1 into --out")):
        p = sub.add_parser(name, help=text)
        common(p)
        p.add_argument("--lock", type=Path, help="lock file (default: INDEX/lock.json)")
        p.add_argument("--offline", action="store_true",
                       help="never ask a registry; every tag must already be in the lock")
        p.add_argument("--refresh", action="store_true",
                       help="ask again for every tag, even those already in the lock")
        if name == "build":
            p.add_argument("--out", type=Path, required=True, help="output directory")
            p.add_argument("--config", type=Path,
                           help="mkdocs.yml (default: the one beside the index folder)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "validate":
            checked = commands.validate(args.index, args.files or None)
            print(f"ok: {checked.files} file(s), {checked.packages} valid package(s)")
            return 0
        opts = commands.options(args.index, lock_file=args.lock,
                                config_file=getattr(args, "config", None),
                                offline=args.offline, refresh=args.refresh)
        if args.command == "resolve":
            resolved = commands.resolve_lock(opts)
            state = "written" if resolved.lock_written else "unchanged"
            print(f"ok: {resolved.versions} version(s), {resolved.requests} registry "
                  f"request(s), {opts.lock_file} {state}")
            return 0
        built = commands.build(opts, args.out)
        print(f"ok: {built.packages} package(s), {built.pages} page(s), "
              f"{built.requests} registry request(s) in {built.seconds:.1f} s -> {built.out}")
        return 0
    except GeneratorError as exc:
        for problem in exc.problems:
            print(problem.render())
        print(f"{len(exc.problems)} problem(s)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
