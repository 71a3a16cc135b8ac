"""`ecli doctor [PKG]`: what this kernel offers eBPF programs, and whether PKG can run.

Exit status 0 when the package can run here (or, with no package, when the
kernel has BTF and ecli may load programs), 1 otherwise, so scripts can ask.
"""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import asdict
from typing import TYPE_CHECKING

from ecli.cli.context import Context
from ecli.cli.render import Block, Mark, Result, Text

if TYPE_CHECKING:
    from ecli.runtime.probe import PackageReport, SystemReport

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


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ecli.runtime import probe

    system = probe.probe_system()
    report = _check(args.package, system, ctx) if args.package else None
    ok = report.can_run if report else system.ok
    blocks = _system_blocks(system) + (_package_blocks(report) if report else [])
    return Result(blocks, exit_code=0 if ok else 1, data={
        "ok": ok, "system": asdict(system),
        "package": {**asdict(report), "can_run": report.can_run} if report else None})


def _check(target: str, system: SystemReport, ctx: Context) -> PackageReport:
    from ecli.cli.locating import locate_target
    from ecli.runtime.probe import PackageNeeds, check_package
    from ecli.runtime.spec import ObjectSpec

    located = locate_target(target, ctx)
    spec = (ObjectSpec.from_file(located.object_path)
            if located.object_path and located.kind == "bpf" else None)  # not a wasm module
    needs = None
    if located.config is not None:
        req = located.config.requirements
        needs = PackageNeeds(req.min_kernel, req.btf, req.features, req.program_types,
                             req.capabilities)
    return check_package(target, located.name, spec, needs, system)


def _system_blocks(system: SystemReport) -> list[Block]:
    from ecli.runtime.probe import CAPABILITIES

    blocks: list[Block] = [Text(f"kernel {system.kernel}, libbpf {system.libbpf}")]
    blocks += [Mark(c.ok, f"{c.name:<12} {c.detail}")
               for c in (system.btf, system.tracefs, system.privileges)]
    blocks.append(Text("attach types", gap=True))
    blocks += [Mark(c.ok, f"{CAPABILITIES[key]:<32} {c.detail}")
               for key, c in system.attach.items()]
    for title, types in (("program types", system.program_types),
                         ("map types", system.map_types)):
        yes = [name for name, ok in types.items() if ok]
        no = [name for name, ok in types.items() if ok is False]
        unknown = [name for name, ok in types.items() if ok is None]
        blocks.append(Text(f"{title}: {len(yes)} of {len(types)} available", gap=True))
        blocks.append(Text(textwrap.fill(" ".join(yes), width=88, initial_indent="  ",
                                         subsequent_indent="  "), multiline=True))
        if no:
            blocks.append(Mark(False, f"not supported: {', '.join(no)}"))
        if unknown:
            blocks.append(Mark(None, f"not probed: {', '.join(unknown)}"
                               + ("" if yes or no else " (probing needs root)")))
    return blocks


def _package_blocks(report: PackageReport) -> list[Block]:
    verdict = "can run here" if report.can_run else "cannot run here"
    blocks: list[Block] = [Text(""), Mark(report.can_run, verdict,
                                          before=f"package {report.name}: ")]
    for check in report.requirements:
        needs = "needs " if check.ok is False else ""
        blocks.append(Mark(check.ok, f"{needs}{check.name}: {check.detail}"))
    return blocks
