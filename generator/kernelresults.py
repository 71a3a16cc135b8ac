"""index/kernels.json: which kernels each package version was proven on.

    {"schema_version": 1,
     "packages": {NAME: {VERSION: [{"kernel": "6.1.0-57-cloud-amd64", "arch": "x86_64",
                                    "result": "pass" | "fail" | "unsupported",
                                    "reason": "...", "tested": "YYYY-MM-DD",
                                    "digest": "sha256:..."}]}}}

Written by `python -m generator kernels` (the guest runner), tracked in Git,
and merged by `build` into api/v1 (`kernels` of each version). A record keeps
the digest it was run on: when a version's pin moves, its old results no
longer describe it and `for_version` drops them. A new run replaces the
records of the same package, version, kernel and architecture, and keeps the
others. Written atomically, with sorted keys.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ecli.files import write_atomic
from ecli.kernel.system import parse_release
from generator.problems import GeneratorError, Problem

SCHEMA_VERSION = 1
RESULTS_FILE = "kernels.json"
RESULTS = ("pass", "fail", "unsupported")


@dataclass(frozen=True)
class KernelResult:
    kernel: str  # uname -r
    arch: str  # uname -m: x86_64, aarch64
    result: str
    reason: str
    tested: str  # YYYY-MM-DD
    digest: str  # the manifest or image index the run pulled

    def published(self) -> dict[str, str]:
        """The api/v1 form: no digest (the version already names it)."""
        return {key: value for key, value in asdict(self).items() if key != "digest"}


Results = dict[str, dict[str, list[KernelResult]]]


def read(path: Path) -> Results:
    """The results at `path`; none when the file does not exist yet."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise _error(path, f"cannot read the kernel results: {exc}") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise _error(path, f"not a kernel results file of schema_version {SCHEMA_VERSION}")
    results: Results = {}
    try:
        for name, versions in data["packages"].items():
            for version, records in versions.items():
                results.setdefault(name, {})[version] = [_record(r) for r in records]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise _error(path, f"packages: wrong shape ({exc})") from None
    return results


def _record(plain: dict[str, Any]) -> KernelResult:
    record = KernelResult(**{key: str(plain[key]) for key in (
        "kernel", "arch", "result", "reason", "tested", "digest")})
    if record.result not in RESULTS:
        raise ValueError(f"result {record.result!r} is not one of {', '.join(RESULTS)}")
    return record


def merge(old: Results, new: Results) -> Results:
    """`old` with each (package, version, kernel, arch) `new` has replaced."""
    merged = {name: {version: list(records) for version, records in versions.items()}
              for name, versions in old.items()}
    for name, versions in new.items():
        for version, records in versions.items():
            fresh = {(r.kernel, r.arch) for r in records}
            kept = [r for r in merged.get(name, {}).get(version, [])
                    if (r.kernel, r.arch) not in fresh]
            merged.setdefault(name, {})[version] = sorted(
                kept + list(records), key=lambda r: (r.arch, parse_release(r.kernel)))
    return merged


def write(path: Path, results: Results) -> None:
    plain = {"schema_version": SCHEMA_VERSION,
             "packages": {name: {version: [asdict(r) for r in records]
                                 for version, records in versions.items()}
                          for name, versions in results.items()}}
    write_atomic(path, (json.dumps(plain, indent=2, sort_keys=True) + "\n").encode())


def for_version(results: Results, name: str, version: str, digest: str | None
                ) -> list[KernelResult]:
    """The records of one version that were run on the digest it is pinned to now."""
    return [r for r in results.get(name, {}).get(version, []) if r.digest == digest]


def _error(path: Path, message: str) -> GeneratorError:
    return GeneratorError([Problem(str(path), 1, 1, "", message, code="kernels")])
