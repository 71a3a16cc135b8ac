"""`python -m generator validate|check-pr|scope|resolve|inspect|build|kernels`: the only
place that prints.

Exit codes: 0 success, 1 problems found (each printed as
`path:line:col: field: message [code]` with a hint), 2 bad command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from generator import buildcache, commands, guestkernels, rootsign
from generator.problems import GeneratorError, Problem


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m generator",
                                  description="Validate the eBPF Hub index and build its site.")
    top.add_argument("--github", action="store_true",
                     help="also print each problem as a GitHub Actions annotation")
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--index", type=Path, default=Path("index"),
                       help="the index folder (default: index)")

    check = sub.add_parser("validate", help="check entries; print every problem")
    common(check)
    check.add_argument("files", nargs="*", type=Path,
                       help="only these entry files (default: every index/packages/*.yaml)")

    for name, text in (("resolve", "resolve tags to digests into the lock"),
                       ("inspect", "inspect new digests' eBPF objects into INDEX/inspection.json"),
                       ("build", "build the site and api/v1 into --out")):
        p = sub.add_parser(name, help=text)
        common(p)
        p.add_argument("--lock", type=Path, help="lock file (default: INDEX/lock.json)")
        p.add_argument("--inspection", type=Path,
                       help="inspection file (default: INDEX/inspection.json)")
        if name != "inspect":
            p.add_argument("--offline", action="store_true",
                           help="never ask a registry; every tag must already be in the lock")
            p.add_argument("--refresh", action="store_true",
                           help="ask again for every tag, even those already in the lock")
        if name == "resolve":
            p.add_argument("--fail-on-moved", action="store_true",
                           help="a tag that now names other content is an error (with "
                           "--refresh: the scheduled check of published versions)")
        if name == "inspect":
            p.add_argument("--store", type=Path, default=Path(".cache/hub-artifacts"),
                           help="OCI store that caches pulled artifacts by digest "
                           "(default: .cache/hub-artifacts)")
        if name == "build":
            p.add_argument("--out", type=Path, required=True, help="output directory")
            p.add_argument("--config", type=Path,
                           help="mkdocs.yml (default: the one beside the index folder)")
            p.add_argument("--stats", type=Path,
                           help="download counts for the home page's Popular section")
            p.add_argument("--site-url", metavar="URL",
                           help="where the site is served, e.g. https://owner.github.io/hub/ "
                           "(default: mkdocs.yml's site_url, else $HUB_SITE_URL); the 404 "
                           "page's links start from its path")
            p.add_argument("--cache", type=Path, metavar="DIR",
                           help="build cache: validation results and rendered pages reused "
                           "by the next build (default: .cache/generator beside the index "
                           "folder; safe to delete)")
            p.add_argument("--no-cache", action="store_true",
                           help="build everything afresh, reading and writing no cache")
            p.add_argument("--hub-key", type=Path, metavar="FILE",
                           help="private key (PEM, or cosign's) that signs api/v1's root, "
                           f"index.json (default: ${rootsign.KEY_ENV}, the PEM itself; "
                           "without either the index is unsigned)")

    matrix = sub.add_parser("kernels", help="run every version's test on the kernel matrix "
                            "(generator/kernels.toml) into INDEX/kernels.json")
    common(matrix)
    matrix.add_argument("--lock", type=Path, help="lock file (default: INDEX/lock.json)")
    matrix.add_argument("--results", type=Path,
                        help="results file to merge into (default: INDEX/kernels.json)")
    matrix.add_argument("--work", type=Path, default=Path(".run/kernels"),
                        help="kernels, initramfs, pulled artifacts (default: .run/kernels)")
    matrix.add_argument("--kernel", action="append", metavar="NAME",
                        help="only this kernel of the matrix (repeatable)")
    matrix.add_argument("--package", action="append", metavar="NAME",
                        help="only this index entry (repeatable); the others' results stay")
    matrix.add_argument("--matrix", type=Path, default=guestkernels.MATRIX_FILE,
                        help="the kernel matrix (default: generator/kernels.toml)")
    matrix.add_argument("--jobs", type=int, metavar="N",
                        help="guests booted at once (default: one per core, as many as the "
                        "free memory holds)")

    pr = sub.add_parser("check-pr", help="check a pull request's changes to the index: "
                        "ownership and immutability of published versions")
    common(pr)
    pr.add_argument("--base", required=True, help="Git revision the pull request is based on")
    pr.add_argument("--author", required=True, help="GitHub login of the pull request's author")
    pr.add_argument("--lock", type=Path, help="lock file (default: INDEX/lock.json)")

    serving = sub.add_parser("serve", help="serve a built site on 127.0.0.1 as GitHub Pages "
                             "does (missing pages get the site's 404.html)")
    serving.add_argument("--dir", type=Path, default=Path("site"), help="the built site")
    serving.add_argument("--port", type=int, default=8000)
    serving.add_argument("--prefix", default="/", help="the path the site is served under")

    kind = sub.add_parser("scope", help="is a pull request an index change or a code change? "
                          "refuse one that is both, or that edits the lock")
    common(kind)
    kind.add_argument("--base", required=True, help="Git revision the pull request is based on")
    kind.add_argument("--head", required=True, help="Git revision of the pull request")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "validate":
            checked = commands.validate(args.index, args.files or None)
            print(f"ok: {checked.files} file(s), {checked.packages} valid package(s)")
            return 0
        if args.command == "check-pr":
            checked_pr = commands.check_pr(args.index, args.base, args.author,
                                           lock_file=args.lock)
            print(f"ok: {checked_pr.changed} changed, {checked_pr.added} new, "
                  f"{checked_pr.removed} removed package(s); {args.author} may make "
                  "these changes")
            return 0
        if args.command == "serve":
            from generator.serve import server

            with server(args.dir, args.port, prefix=args.prefix) as httpd:
                print(f"serving {args.dir} on http://127.0.0.1:{httpd.server_address[1]}"
                      f"{args.prefix}", flush=True)
                httpd.serve_forever()
            return 0
        if args.command == "scope":
            found = commands.check_scope(args.index, args.base, args.head)
            what = (f"index change: {len(found.index)} file(s) under {args.index}/"
                    if found.index else f"code change: {len(found.code)} file(s), "
                    "judged by the tests (test.yml), not by the index gate")
            print(f"ok: {what}")
            return 0
        if args.command == "kernels":
            ran = commands.kernels(args.index, args.work, lock_file=args.lock,
                                   results_file=args.results, only=args.kernel,
                                   packages=args.package, matrix=args.matrix, jobs=args.jobs,
                                   log=lambda line: print(line, flush=True))
            failed = sum(o.result == "fail" for run in ran.runs for _, o in run.results)
            print(f"ok: {len(ran.runs)} kernel(s), {failed} failing test(s), "
                  f"{ran.results_file} written")
            return 0
        opts = commands.options(args.index, lock_file=args.lock,
                                config_file=getattr(args, "config", None),
                                offline=getattr(args, "offline", False),
                                refresh=getattr(args, "refresh", False),
                                inspection_file=args.inspection,
                                stats_file=getattr(args, "stats", None),
                                fail_on_moved=getattr(args, "fail_on_moved", False),
                                cache_dir=_cache_dir(args),
                                site_url=getattr(args, "site_url", None),
                                hub_key=getattr(args, "hub_key", None))
        if args.command == "inspect":
            inspected = commands.inspect(opts, args.store)
            state = "written" if inspected.written else "unchanged"
            for line in inspected.dangerous:
                print(f"dangerous: {line}")
            print(f"ok: {inspected.digests} digest(s) inspected, {inspected.pulled} pulled, "
                  f"{opts.inspection_file} {state}")
            return 0
        if args.command == "resolve":
            resolved = commands.resolve_lock(opts)
            state = "written" if resolved.lock_written else "unchanged"
            for line in resolved.moved:
                print(f"moved: {line}")
            print(f"ok: {resolved.versions} version(s), {resolved.requests} registry "
                  f"request(s), {opts.lock_file} {state}")
            return 0
        built = commands.build(opts, args.out)
        cached = (f", {built.reused} package page(s) from the cache, {built.validated} entry "
                  "file(s) validated" if opts.cache_dir else "")
        signed = (f"index signed by hub key {built.hub_key}" if built.hub_key else
                  f"index unsigned (no --hub-key, no {rootsign.KEY_ENV})")
        print(f"ok: {built.packages} package(s), {built.pages} page(s){cached}, "
              f"{built.requests} registry request(s) in {built.seconds:.1f} s -> {built.out}; "
              f"{signed}")
        return 0
    except GeneratorError as exc:
        for problem in exc.problems:
            print(problem.render())
            if args.github:
                print(_annotation(problem))
        print(f"{len(exc.problems)} problem(s)")
        return 1


def _cache_dir(args: argparse.Namespace) -> Path | None:
    """The build cache of `build`: --cache DIR, none with --no-cache, else the default."""
    if args.command != "build" or args.no_cache:
        return None
    return args.cache or buildcache.default_dir(args.index)


def _annotation(problem: Problem) -> str:
    """`::error file=…,line=…,col=…,title=…::…`, escaped as the workflow commands want."""
    def escape(text: str, *, prop: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if prop else text

    message = f"{problem.field_path}: {problem.message}" if problem.field_path else problem.message
    if problem.hint:
        message += f"\n{problem.hint}"
    return (f"::error file={escape(problem.file, prop=True)},line={problem.line},"
            f"col={problem.col},title={escape(problem.code, prop=True)}::{escape(message)}")


if __name__ == "__main__":
    sys.exit(main())
