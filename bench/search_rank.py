"""`ecli search` over a 10,000-package catalog, in process: the query reading of
ecli/packages/search_rank.py (stop words, plurals, typos) beside the plain substring match
it replaced, in the same run on the same cached catalog.

    python bench/search_rank.py [--runs N]

The catalog is bench/package_manager.py's synthetic one, served over HTTP on 127.0.0.1 and
fetched once with `ecli update`; then each query is answered --runs times by each matcher
(best time kept: the machine is shared). Prints a Markdown table. Not a test: nothing here
asserts.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

QUERIES = [("latency disk", "words as typed"), ("trace", "one broad word"),
           ("latncy", "a typo"), ("who killed my process", "stop words"),
           ("zebrafish", "nothing matches")]


def substring_search(client, term: str) -> list:
    """The matcher search_rank replaced: every word a substring of the same search texts,
    three ranks (the baseline)."""
    from ecli.packages.index_client import SearchHit
    words = term.lower().split()
    hits = []
    for source, lines, texts in client._readable():
        for text, line in zip(texts, lines, strict=True):
            if all(word in text for word in words):
                name, summary, kind, latest, _rest = line.split("\t", 4)
                rank = 0 if name == term else 1 if words and words[0] in name else 2
                hits.append((rank, source.priority, name,
                             SearchHit(source.name, name, summary, kind, latest or None)))
    hits.sort(key=lambda hit: hit[:3])
    return [hit[-1] for hit in hits]


def best(runs: int, answer: Callable[[], list]) -> tuple[float, int]:
    times, hits = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        hits = len(answer())
        times.append(time.perf_counter() - start)
    return min(times), hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    from package_manager import ECLI, big_catalog, generate

    from ecli.packages.index_client import IndexClient
    from ecli.paths import Paths

    from index_fixtures import serve

    with tempfile.TemporaryDirectory(prefix="ecli-bench-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "ECLI_HOME": str(tmp / "home"), "ECLI_DEFAULT_SOURCE": ""}
        key, public = generate(tmp / "hub-key")
        big_catalog(tmp / "site" / "api" / "v1", key)
        with serve(tmp / "site") as (base, _seen):
            subprocess.run([*ECLI, "sources", "add", "big", base + "api/v1/", "--key",
                            str(public)], env=env, check=True, stdout=subprocess.DEVNULL)
            subprocess.run([*ECLI, "update"], env=env, check=True, stdout=subprocess.DEVNULL)
        client = IndexClient(Paths.from_environment(env), offline=True)
        print(f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"{args.runs} runs, best of each")
        print("| query (10,000 packages) | substring: ms, hits | search_rank: ms, hits | ratio |")
        print("| --- | ---: | ---: | ---: |")
        for term, what in QUERIES:
            old, old_hits = best(args.runs, lambda t=term: substring_search(client, t))
            new, new_hits = best(args.runs, lambda t=term: client.search(t))
            print(f"| '{term}' ({what}) | {old * 1000:.1f}, {old_hits} | "
                  f"{new * 1000:.1f}, {new_hits} | {new / old:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
