"""`ecli run TARGET [program options]`: pull if needed, then run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecli.cli.context import Context
from ecli.cli.render import Result
from ecli.errors import EcliError, UsageError
from ecli.oci.config import BUNDLE_RUN_OPTIONS

if TYPE_CHECKING:
    from ecli.hubindex.inspection import Inspection
    from ecli.metrics.exporter import Exporter
    from ecli.oci.config import PackageConfig
    from ecli.packages.locate import LocatedPackage
    from ecli.runtime.event_header import EventTypes
    from ecli.runtime.maps import MapChoice
    from ecli.runtime.runner import PreparedRun, RunSettings
    from ecli.runtime.spec import ObjectSpec

EXAMPLES = """examples:
  ecli run opensnoop                       newest version from the sources
  ecli run opensnoop@0.1.0 --json          a pinned version, JSON lines
  ecli run opensnoop -h                    the program's own options
  ecli run opensnoop --duration 5 --pid 42 ecli's options go before the target
  ecli run 127.0.0.1:5000/ebpfhub/opensnoop:0.1.0
  ecli run ./opensnoop.bpf.o
  ecli run ./package.json                  an eunomia-bpf JSON package
  cat tool.bpf.o | ecli run -              an object on standard input
  ecli run https://example.org/tool.bpf.o  an object from a URL
  ecli run ./tool.bpf.o --event-header tool.h  event types from a C header
  ecli run --yes ./writes-user-memory.bpf.o  run a dangerous package without asking

Before loading, ecli shows the package's elevated and dangerous permissions
(info ones too with -v; none with -q), read from the object it loads. When
one is dangerous it asks 'Run it? [y/N]' on a terminal, and refuses without
one unless --yes is given. 'ecli inspect TARGET' shows everything.
A bundle or image runs its publisher's own program as root: that is
dangerous unless the package is signed by the signer its index entry
declares (then elevated, not asked), or is a local build (a path).
A bundle obeys --duration (SIGTERM, then SIGKILL 5 s later), gets SIGINT and
SIGTERM forwarded, and its exit status is ecli's; --json, --timestamp,
--interval and --top given before the target reach it only when its config's
run_options declares them, and are refused otherwise.

--status-file PATH: the run writes its state there as JSON, atomically:
{"state": "attached", "name", "pid", "programs": [{"id", "name", "section"}]}
once attached, then "state": "exited" with "exit_status" (and "error",
"hint" when it failed). 'ecli run --detach', ps, stop and logs read it.
--status-fd N writes the same documents, one line each, to an inherited file
descriptor (for a supervisor that must not open files while the run traces).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EXAMPLES
    parser.add_argument("target", metavar="TARGET",
                        help="package NAME[@VERSION], OCI reference, or path to a .bpf.o or an "
                             "eunomia package.json")
    parser.add_argument("program_args", nargs=argparse.REMAINDER, metavar="...",
                        help="options of the program itself (see 'ecli run TARGET -h')")
    _add_run_options(parser)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """ecli's own options, accepted before the target and among the program's."""
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    parser.add_argument("--duration", type=float, metavar="SECONDS",
                        help="stop after this many seconds")
    parser.add_argument("--timestamp", "-T", action="store_true",
                        help="add the time to each event")
    parser.add_argument("--interval", "-i", type=float, metavar="SECONDS",
                        help="also print the maps every SECONDS (they print at exit)")
    parser.add_argument("--top", type=int, default=20, metavar="N",
                        help="rows of each map table to print, largest first (default: 20)")
    parser.add_argument("--maps", metavar="NAME,...",
                        help="show only these maps (default: every map but event channels)")
    parser.add_argument("--no-maps", action="store_true", help="show no maps")
    parser.add_argument("--per-cpu", action="store_true",
                        help="show each CPU's value of per-CPU maps too (default: summed)")
    parser.add_argument("--filter", action="append", metavar="FIELD OP VALUE",
                        help="keep events (and map rows) whose FIELD matches: ==, !=, ~ regex, "
                             "!~, <, >, <=, >= (e.g. comm==bash); repeat to AND them")
    parser.add_argument("--detach", action="store_true",
                        help="run in the background, output to a log (see ecli ps/logs/stop)")
    parser.add_argument("--pull", choices=("missing", "always", "never"), default="missing",
                        help="pull only what is missing (default), always, or never")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="run a package with dangerous permissions without asking")
    parser.add_argument("--status-file", type=Path, metavar="PATH",
                        help="write the run's state (attached, program ids, exit) as JSON")
    parser.add_argument("--status-fd", type=int, metavar="N",
                        help="write the same state as JSON lines to file descriptor N")
    parser.add_argument("--metrics", metavar="HOST:PORT",
                        help="serve the maps as Prometheus metrics at http://HOST:PORT/metrics")
    parser.add_argument("--metrics-max-series", type=int, metavar="N",
                        help="series one scrape or push may hold; more are dropped and "
                             "counted (default: 10000; with --metrics or --otel-endpoint)")
    parser.add_argument("--otel-endpoint", metavar="URL",
                        help="push the same metrics over OTLP/HTTP every --interval "
                             "(default 15s)")
    parser.add_argument("--otel-protocol", metavar="PROTOCOL",
                        help="how OTLP pushes are encoded: http/protobuf (default) or "
                             "http/json (with --otel-endpoint)")
    parser.add_argument("--event-header", type=Path, metavar="FILE.h",
                        help="decode events with a struct of this C header (compiled with "
                             "clang; --event-type NAME picks one)")


def run(args: argparse.Namespace, ctx: Context) -> Result:
    if args.detach or "--detach" in args.program_args:
        if args.target == "-":
            raise UsageError("--detach cannot read the object from stdin",
                             hint="save it to a file and run that")
        from ecli.cli.detach import run_detached

        return run_detached(args, ctx)
    own = argparse.ArgumentParser(add_help=False)  # ecli's run options alone
    _add_run_options(own)
    args.before_target = _given_before_target(args, own)
    object_args = _late_options(args, own)
    if args.status_file is None and args.status_fd is None:
        return _run(args, object_args, ctx, None)
    recorder = _StatusFile(args.status_file, args.status_fd)
    try:
        result = _run(args, object_args, ctx, recorder)
    except BaseException as exc:
        recorder.exited(exc)
        raise
    recorder.exited(None)
    return result


def _given_before_target(args: argparse.Namespace,
                         own: argparse.ArgumentParser) -> dict[str, Any]:
    """ecli's run options given before the target, by name: all that reaches a bundle or an
    image (what follows the target is the program's own)."""
    defaults = vars(own.parse_args([]))
    return {name: value for name, value in vars(args).items()
            if name in defaults and _given(value) and value != defaults[name]}


def _given(value: object) -> bool:
    """An option's value as parsed, when it was given: 0 is (`--top 0` is refused), unlike
    `value not in (None, False)`, which took 0 for False."""
    return value is not None and value is not False


def _late_options(args: argparse.Namespace, own: argparse.ArgumentParser) -> list[str]:
    """ecli's own options given among the program's take effect too; the object's own
    arguments without them."""
    late, program_args = own.parse_known_args(args.program_args)
    for name, value in vars(late).items():
        if isinstance(value, list):  # --filter: before and after the target, all of them
            setattr(args, name, [*(getattr(args, name) or []), *value])
        elif _given(value) and value != own.get_default(name):
            setattr(args, name, value)
    if args.duration is not None and args.duration <= 0:
        raise UsageError("--duration must be a positive number of seconds")
    if args.interval is not None and args.interval <= 0:
        raise UsageError("--interval must be a positive number of seconds")
    if args.top <= 0:
        raise UsageError("--top must be a positive number")
    _check_metrics_options(args)
    return program_args


def _check_metrics_options(args: argparse.Namespace) -> None:
    """An option that tunes an export needs the export: given alone it would do nothing."""
    if args.metrics_max_series is not None:
        if not (args.metrics or args.otel_endpoint):
            raise UsageError("--metrics-max-series needs --metrics or --otel-endpoint")
        if args.metrics_max_series <= 0:
            raise UsageError("--metrics-max-series must be a positive number")
    if args.otel_protocol is not None and not args.otel_endpoint:
        raise UsageError("--otel-protocol needs --otel-endpoint")


def _run(args: argparse.Namespace, object_args: list[str], ctx: Context,
         recorder: _StatusFile | None) -> Result:
    from ecli.cli.locating import locate_target
    from ecli.cli.progress import status
    from ecli.cli.render import RunPrinter
    from ecli.runtime import runner

    shown = _map_choice(args)  # a bad --filter fails before anything is pulled
    package = locate_target(args.target, ctx, pull=args.pull)
    if recorder:
        recorder.name = package.name
    if package.kind == "bundle":
        return _run_bundle(package, args, ctx)
    if package.kind == "wasm":
        return _run_wasm(package, args, ctx, recorder)
    if package.kind == "image":
        from ecli import launch
        from ecli.packages.inspection import inspect_package

        _refuse_map_options(args, package.name, package.kind)
        _refuse_run_options(package.name, "an image's container", args.before_target)
        _consent(package, inspect_package(package, ctx.paths).summary, args, ctx)
        return Result(exit_code=launch.run(package, list(args.program_args), ctx.paths,
                                           args.pull))
    if package.object_path is None:
        kind = package.config.kind if package.config else "unknown"
        raise UsageError(f"{package.name}: packages of kind {kind!r} cannot be run yet")
    settings = _run_settings(package)
    if args.event_header is not None:
        from ecli.runtime.event_header import compile_header

        settings = settings._replace(event_types=compile_header(args.event_header))
    prepared = runner.prepare(package.object_path, settings, package.name, object_args, shown)
    if args.event_header is not None and not prepared.streams:
        raise UsageError(f"{package.name}: --event-header: the object sends no events (it has "
                         "no ring buffer or perf event array)")
    from ecli.runtime.analysis import analyse

    _consent(package, analyse(prepared.spec), args, ctx)
    printer = RunPrinter(package.name, as_json=args.json, timestamp=args.timestamp,
                         verbose=ctx.verbose, quiet=ctx.quiet,
                         on_attached=recorder.attached if recorder else None,
                         duration=args.duration)
    exporter = _exporter(args, prepared, package.config, ctx.quiet)
    try:
        summary = runner.execute(prepared, printer, args.duration, args.interval, args.top,
                                 exporter)
    finally:
        if exporter is not None:
            exporter.stop()
    if not ctx.quiet:
        status(f"{package.name}: detached after {summary.seconds:.1f}s, "
               f"{summary.events} event(s)")
    return Result()


def _run_bundle(package: LocatedPackage, args: argparse.Namespace, ctx: Context) -> Result:
    """A bundle under ecli's run options: output options it declares are passed on,
    others refused before anything runs; --duration and signals are ecli's to enforce."""
    from ecli.launch import bundle
    from ecli.packages.inspection import inspect_package

    own = args.before_target
    _refuse_map_options(args, package.name, package.kind)
    _refuse_run_options(package.name, "a bundle", own, ("event_header",))
    passed = bundle.passed_options(package, {name: own[name] for name in BUNDLE_RUN_OPTIONS
                                             if name in own})
    _consent(package, inspect_package(package, ctx.paths).summary, args, ctx)
    outcome = bundle.run(package, [*passed, *args.program_args], ctx.paths,
                         own.get("duration"))
    warnings = []
    if outcome.killed:
        warnings.append(f"{package.name} did not stop within {bundle.GRACE_SECONDS:g}s of "
                        "SIGTERM at the end of --duration; killed")
    return Result(warnings=warnings, exit_code=outcome.exit_code)


def _run_wasm(package: LocatedPackage, args: argparse.Namespace, ctx: Context,
              recorder: _StatusFile | None) -> Result:
    """A wasm-bpf module: its embedded objects' permissions shown (and asked about) first;
    an object it loads later with a dangerous permission not shown is refused."""
    from ecli.cli.progress import status
    from ecli.packages.inspection import inspect_package
    from ecli.runtime.wasm.runner import run_module

    _refuse_map_options(args, package.name, package.kind)
    _refuse_run_options(package.name, "a wasm module", args.before_target,
                        (*BUNDLE_RUN_OPTIONS, "event_header"))
    assert package.object_path is not None
    summary = inspect_package(package, ctx.paths).summary
    _consent(package, summary, args, ctx)
    outcome = run_module(package.object_path, list(args.program_args), package.name,
                         duration=args.before_target.get("duration"),
                         vet=None if args.yes else _vet_loaded(package.name, summary),
                         on_attached=recorder.attached if recorder else None)
    if not ctx.quiet:
        status(f"{package.name}: {'stopped' if outcome.stopped else 'exited'}, "
               f"{outcome.events} event(s) passed to the module")
    return Result(exit_code=outcome.exit_code)


def _vet_loaded(name: str, shown: Inspection | None) -> Callable[[ObjectSpec], None]:
    """Refuses an object whose dangerous permissions were not among those shown."""
    accepted = {p.id for p in shown.dangerous} if shown else set()

    def vet(spec: ObjectSpec) -> None:
        from ecli.errors import WasmError
        from ecli.runtime.analysis import analyse

        extra = [p.id for p in analyse(spec).dangerous if p.id not in accepted]
        if extra:
            raise WasmError(f"{name}: the module loads an object that can {', '.join(extra)} "
                            "(dangerous), which was not shown before the run",
                            hint="read 'ecli inspect' on it, then run it with --yes")
    return vet


def _refuse_run_options(name: str, what: str, own: dict[str, Any],
                       options: Sequence[str] = (*BUNDLE_RUN_OPTIONS, "duration",
                                                 "event_header")) -> None:
    """One line for the first of `options` given, which ecli cannot apply to `what`."""
    for option in options:
        if option in own:
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{name}: {flag} applies to eBPF objects ecli runs itself, "
                             f"not to {what}")


class _StatusFile:
    """`--status-file` / `--status-fd`: the run's `RunState`, when it attaches and ends."""

    def __init__(self, path: Path | None, fd: int | None) -> None:
        self.path = path
        self.fd = fd
        self.name = ""
        self.programs: tuple[Any, ...] = ()

    def attached(self, programs: Sequence[Any]) -> None:
        from ecli.launch.detached import AttachedState

        self.programs = tuple(AttachedState(p.id, p.name, p.section) for p in programs)
        self._write("attached")

    def exited(self, exc: BaseException | None) -> None:
        if isinstance(exc, EcliError):
            self._write("exited", exc.exit_code, exc.message, exc.hint)
        elif isinstance(exc, SystemExit):  # the program's own -h, or its usage error
            self._write("exited", exc.code if isinstance(exc.code, int) else 1)
        elif isinstance(exc, KeyboardInterrupt):
            self._write("exited", 130)
        elif exc is not None:
            self._write("exited", 70, f"internal error: {type(exc).__name__}: {exc}")
        else:
            self._write("exited", 0)

    def _write(self, state: str, exit_status: int | None = None, error: str | None = None,
               hint: str | None = None) -> None:
        import os

        from ecli.launch.detached import RunState, write_state

        record = RunState(state, self.name, os.getpid(), self.programs, exit_status, error,
                          hint)
        if self.path is not None:
            write_state(self.path, record)
        if self.fd is not None:
            with open(self.fd, "wb", closefd=False) as out:  # the fd stays open: no file opened
                out.write(record.to_json() + b"\n")


def _refuse_map_options(args: argparse.Namespace, name: str, kind: str) -> None:
    """A bundle or image prints its own output: ecli cannot filter it or read its maps."""
    given = [flag for flag, value in (("--filter", args.filter), ("--maps", args.maps),
                                      ("--no-maps", args.no_maps), ("--per-cpu", args.per_cpu),
                                      ("--metrics", args.metrics),
                                      ("--otel-endpoint", args.otel_endpoint))
             if value]
    if given:
        raise UsageError(f"{name}: {given[0]} applies to eBPF objects ecli runs itself, "
                         f"not to a package of kind {kind!r} (it prints its own output)")


def _map_choice(args: argparse.Namespace) -> MapChoice:
    """--maps, --no-maps, --per-cpu and --filter, for the runtime."""
    from ecli.runtime.maps import MapChoice

    if args.no_maps and args.maps:
        raise UsageError("--maps and --no-maps cannot be given together")
    names = () if args.no_maps else None
    if args.maps:
        names = tuple(name.strip() for name in args.maps.split(",") if name.strip())
    if not args.filter:
        return MapChoice(names, args.per_cpu)
    from ecli.runtime.filters import parse

    return MapChoice(names, args.per_cpu, tuple(parse(text) for text in args.filter))


def _exporter(args: argparse.Namespace, prepared: PreparedRun, config: PackageConfig | None,
              quiet: bool) -> Exporter | None:
    """--metrics and --otel-endpoint: bound now, before anything is loaded."""
    if not (args.metrics or args.otel_endpoint):
        return None
    from ecli.cli.progress import status, warn
    from ecli.metrics.exporter import Exporter

    exporter = Exporter(prepared.spec, prepared.name, config.output.units if config else {},
                        config.metrics if config else {}, address=args.metrics,
                        otel_endpoint=args.otel_endpoint, otel_protocol=args.otel_protocol,
                        interval=args.interval,
                        max_series=args.metrics_max_series, warn=warn)
    if exporter.server and not quiet:
        status(f"{prepared.name}: metrics of {', '.join(exporter.collector.maps) or 'no map'} "
               f"at {exporter.server.url}")
    return exporter


def _run_settings(package: LocatedPackage) -> RunSettings:
    """The runtime's plain settings, from what the package config says about running it
    and the event types' BTF it carries."""
    from ecli.runtime.options import OptionText
    from ecli.runtime.runner import RunSettings

    config = package.config
    if package.eunomia is not None:  # its own description, options and event types
        from ecli.packages import eunomia

        return RunSettings(
            description=package.eunomia.description, options=eunomia.options(package.eunomia),
            fields=dict(config.output.fields) if config else {},
            units=dict(config.output.units) if config else {},
            event_types=eunomia.event_types(package.eunomia))
    if config is None:
        return RunSettings()
    return RunSettings(
        description=config.description,
        options={name: OptionText(info.flag, info.description)
                 for name, info in config.options.items()},
        fields=dict(config.output.fields), units=dict(config.output.units),
        event_types=_carried_event_types(package))


def _carried_event_types(package: LocatedPackage) -> EventTypes | None:
    """The BTF an `ecli build` with an event header put in the package (formats.md)."""
    assert package.config is not None
    output = package.config.output
    if output.event_btf is None or output.event_type is None:
        return None
    from ecli.errors import ArtifactError
    from ecli.runtime.event_header import EventTypes

    path = package.artifact.files.get(output.event_btf) if package.artifact else None
    if path is None:
        raise ArtifactError(f"{package.name}: output.event_btf names {output.event_btf!r}, "
                            "which is not a file of the package")
    return EventTypes.from_btf(path.read_bytes(), f"{package.name}: {output.event_btf}",
                               output.event_type)


def _consent(package: LocatedPackage, found: Inspection | None, args: argparse.Namespace,
             ctx: Context) -> None:
    """Show the permissions; one above the policy's cap is refused (unless the package is
    trusted), a dangerous one needs a yes: --yes, or asked on a terminal."""
    if found is None:
        return
    from ecli.cli.progress import ask
    from ecli.cli.render import print_permissions
    from ecli.packages import policy
    from ecli.runtime.analysis import shown

    name = package.name
    listed = shown(found, ctx.verbose > 0)
    if listed and not ctx.quiet:
        print_permissions(name, listed, args.target)
    policy.check_permissions(ctx.paths, name, [p.level for p in found.permissions],
                             package.digest, package.reference)
    dangerous = ", ".join(p.id for p in found.dangerous)
    if not dangerous or args.yes:
        return
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise UsageError(f"{name} has dangerous permissions ({dangerous}); not run without a "
                         "terminal to confirm", hint="pass --yes to run it anyway")
    answer = ask(f"{name} can: {dangerous} (dangerous). Run it? [y/N]").lower()
    if answer not in ("y", "yes"):
        raise UsageError(f"{name}: not run (answered {answer or 'no'!r})")
