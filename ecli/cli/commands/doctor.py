"""`ecli doctor [PKG]`: what this kernel offers eBPF programs, and whether PKG can run.

Exit status 0 when the package can run here (or, with no package, when the
kernel has BTF and ecli may load programs), 1 otherwise, so scripts can ask.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from dataclasses import asdict
from typing import TYPE_CHECKING

from ecli.cli.context import Context
from ecli.cli.render import print_json

if TYPE_CHECKING:
    from ecli.runtime.probe import Check, PackageReport, SystemReport

EXAMPLES = """examples:
  ecli doctor                     what this kernel supports
  ecli doctor opensnoop           can the package opensnoop run here?
  ecli doctor ./tool.bpf.o --json the same for a local object, for scripts
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("package", nargs="?", metavar="PKG",
                        help="package NAME[@VERSION], OCI reference, or path to a .bpf.o")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ecli.runtime import probe

    system = probe.probe_system()
    report = _check(args.package, system, ctx) if args.package else None
    ok = report.can_run if report else system.ok
    if args.json:
        print_json({"ok": ok, "system": asdict(system),
                    "package": ({**asdict(report), "can_run": report.can_run}
                                if report else None)})
        return 0 if ok else 1
    marks = _Marks(sys.stdout)
    _print_system(system, marks)
    if report:
        _print_package(report, marks)
    return 0 if ok else 1


def _check(target: str, system: SystemReport, ctx: Context) -> PackageReport:
    from ecli.packages.locate import locate
    from ecli.runtime.probe import PackageNeeds, check_package
    from ecli.runtime.spec import ObjectSpec

    located = locate(target, ctx.paths, progress=None if ctx.quiet else _progress)
    spec = ObjectSpec.from_file(located.object_path) if located.object_path else None
    needs = None
    if located.config is not None:
        req = located.config.requirements
        needs = PackageNeeds(req.min_kernel, req.btf, req.features, req.program_types,
                             req.capabilities)
    return check_package(target, located.name, spec, needs, system)


class _Marks:
    """✓ / ✗ / ? in colour on a terminal; no colour when piped or NO_COLOR is set."""

    def __init__(self, stream) -> None:
        self.colour = stream.isatty() and not os.environ.get("NO_COLOR")
        utf8 = (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self.symbols = {True: "✓", False: "✗", None: "?"} if utf8 else \
            {True: "ok", False: "NO", None: "??"}

    def __call__(self, ok: bool | None) -> str:
        symbol = self.symbols[ok]
        if not self.colour:
            return symbol
        code = {True: "32", False: "31", None: "33"}[ok]
        return f"\033[{code}m{symbol}\033[0m"


def _line(marks: _Marks, check: Check, label: str, width: int) -> str:
    return f"  {marks(check.ok)} {label:<{width}} {check.detail}".rstrip()


def _print_system(system: SystemReport, marks: _Marks) -> None:
    from ecli.runtime.probe import CAPABILITIES

    print(f"kernel {system.kernel}, libbpf {system.libbpf}")
    for check in (system.btf, system.tracefs, system.privileges):
        print(_line(marks, check, check.name, 12))
    print("\nattach types")
    for key, check in system.attach.items():
        print(_line(marks, check, CAPABILITIES[key], 32))
    for title, types in (("program types", system.program_types),
                         ("map types", system.map_types)):
        yes = [name for name, ok in types.items() if ok]
        no = [name for name, ok in types.items() if ok is False]
        unknown = [name for name, ok in types.items() if ok is None]
        print(f"\n{title}: {len(yes)} of {len(types)} available")
        print(textwrap.fill(" ".join(yes), width=88, initial_indent="  ",
                            subsequent_indent="  "))
        if no:
            print(f"  {marks(False)} not supported: {', '.join(no)}")
        if unknown:
            print(f"  {marks(None)} not probed: {', '.join(unknown)}"
                  + ("" if yes or no else " (probing needs root)"))


def _print_package(report: PackageReport, marks: _Marks) -> None:
    verdict = "can run here" if report.can_run else "cannot run here"
    print(f"\npackage {report.name}: {marks(report.can_run)} {verdict}")
    for check in report.requirements:
        needs = "needs " if check.ok is False else ""
        print(f"  {marks(check.ok)} {needs}{check.name}: {check.detail}")


def _progress(message: str) -> None:
    print(f"ecli: {message}", file=sys.stderr, flush=True)
