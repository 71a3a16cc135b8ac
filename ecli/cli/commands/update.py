"""`ecli update`: refresh every source's catalog, conditionally."""

from __future__ import annotations

import argparse

from ecli.cli.context import Context
from ecli.cli.render import Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("examples:\n  ecli update\n  ecli update --force      refetch everything\n"
                     "  ecli update --json\n\n"
                     "One conditional request per source (If-None-Match / If-Modified-Since);\n"
                     "a source that cannot be reached keeps its cached index, with a warning.\n"
                     "A signed index is checked against the source's pinned hub key; one\n"
                     "refused (tampered, replayed, unsigned where a key is pinned) fails.\n"
                     "Exits 1 when no source could be fetched (even with caches to use).")
    parser.add_argument("--force", action="store_true",
                        help="fetch every document again, trusting no cached copy or validator")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.cli.progress import warn
    from ecli.errors import EcliError, IndexTrustError
    from ecli.packages.index_client import IndexClient
    from ecli.packages.install import refresh_installed

    client = IndexClient(ctx.paths)
    results, failed, refused = [], [], False
    for source in client.require_sources():
        try:
            result = client.update_or_cached(source, force=args.force)
        except IndexTrustError as exc:
            failed.append((source.name, exc.message))
            warn(exc.message)
            refused = True
            continue
        except EcliError as exc:
            failed.append((source.name, exc.message))
            warn(f"{source.name}: {exc.message} (and nothing is cached)")
            continue
        if result.offline_error:
            warn(f"{source.name}: {result.offline_error}; using the cached index from "
                 f"{_age(result.cache_age_seconds or 0)} ago")
        elif result.changed:
            for problem in refresh_installed(client, source, ctx.paths):
                warn(problem)
        results.append(result)
    # Non-zero when no source could be fetched, even if every one still has a cache.
    fetched = [r for r in results if not r.offline_error]
    result = Result(data=[{"source": r.source.name, "changed": r.changed,
                           "packages": r.packages, "offline": r.offline_error is not None}
                          for r in results]
                    + [{"source": name, "error": message} for name, message in failed],
                    quiet=[], exit_code=1 if refused or not fetched else 0)
    for line in client.warnings:
        warn(line)
    for r in results:
        state = "updated" if r.changed else "cached" if r.offline_error else "up to date"
        result.line(f"{r.source.name}: {state}, {r.packages} package(s)")
    return result


def _age(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{int(seconds)} seconds"
