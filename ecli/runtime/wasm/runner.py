"""Run a wasm-bpf module: compile, check its imports, limit it, start it, stop it.

The module gets WASI preview 1 (arguments, standard input, output and error,
nothing of the file system) and the `wasm_bpf` host functions (`hostabi`).
Its imports are checked before anything runs, so one we do not provide is one
line naming it. Its memory is capped (`MEMORY_LIMIT`), and it runs under
epoch interruption: `--duration` and SIGINT/SIGTERM bump the engine's epoch
from a watchdog thread (woken through the signal wake-up fd, since Python's
own handlers cannot run while wasm code spins), so even a module that loops
forever without calling the host stops at the next loop edge. Every object it
loaded is closed when `run_module` returns, however it ended.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from ecli.errors import EcliError, WasmError
from ecli.files import read_limited
from ecli.runtime.attach import AttachedProgram
from ecli.runtime.spec import ObjectSpec
from ecli.runtime.wasm.hostabi import IMPORTS, MODULE, BpfHost, Stopped

WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")
MAX_MODULE_BYTES = 64 << 20
MEMORY_LIMIT = 1 << 30  # bytes of linear memory a module may have, initial or grown
TABLE_LIMIT = 1 << 20  # elements of its tables


@dataclass(frozen=True)
class WasmOutcome:
    exit_code: int
    events: int  # samples handed to the module's callbacks
    stopped: bool  # ended by --duration or a signal rather than by the module


def compile_module(path: Path, name: str) -> tuple[wasmtime.Engine, wasmtime.Module]:
    """The module compiled, its imports checked against what we provide."""
    data = read_limited(path, MAX_MODULE_BYTES, WasmError, f"{name}: {path}")
    config = wasmtime.Config()
    config.epoch_interruption = True
    engine = wasmtime.Engine(config)
    try:
        module = wasmtime.Module(engine, data)
    except wasmtime.WasmtimeError as exc:
        raise WasmError(f"{name}: {path} is not a valid wasm module: {_first_line(exc)}") from None
    check_imports(module, name)
    return engine, module


def check_imports(module: wasmtime.Module, name: str) -> None:
    for item in module.imports:
        if item.module in WASI_MODULES:
            continue
        known = IMPORTS.get((item.module, item.name or ""))
        if known is None:
            raise WasmError(f"{name}: the module imports {item.module}.{item.name}, which ecli "
                            f"does not provide (it gives {MODULE}.* and WASI preview 1)")
        params, results, _method = known
        kind = item.type
        if not isinstance(kind, wasmtime.FuncType) or (
                [str(p) for p in kind.params], [str(r) for r in kind.results]) != (
                [str(p) for p in params], [str(r) for r in results]):
            raise WasmError(f"{name}: the module imports {item.module}.{item.name} with "
                            "another signature than wasm-bpf's")
    exported = {item.name for item in module.exports}
    for needed in ("memory", "_start"):
        if needed not in exported:
            raise WasmError(f"{name}: the module exports no {needed!r} (build it as a WASI "
                            "command)")


def run_module(path: Path, argv: Sequence[str], name: str, *, duration: float | None = None,
               vet: Callable[[ObjectSpec], None] | None = None,
               on_attached: Callable[[list[AttachedProgram]], None] | None = None,
               memory_limit: int = MEMORY_LIMIT) -> WasmOutcome:
    engine, module = compile_module(path, name)
    store = wasmtime.Store(engine)
    store.set_limits(memory_size=memory_limit, table_elements=TABLE_LIMIT, instances=1,
                     tables=4, memories=1)
    store.set_epoch_deadline(1)
    wasi = wasmtime.WasiConfig()
    wasi.argv = [name, *argv]
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    host = BpfHost(name, vet, on_attached)
    host.define(linker)
    sys.stdout.flush()  # the module writes to the same descriptors, unbuffered
    with _Watchdog(engine, host, duration) as watchdog:
        try:
            try:
                instance = linker.instantiate(store, module)
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                raise WasmError(f"{name}: cannot start the module: {_first_line(exc)}",
                                hint=f"its memory may not exceed {memory_limit >> 20} MiB"
                                ) from None
            start = instance.exports(store)["_start"]
            assert isinstance(start, wasmtime.Func)
            code = _call(start, store, host, name)
        finally:
            host.close()
    return WasmOutcome(code, host.events, watchdog.fired)


def _call(start: wasmtime.Func, store: wasmtime.Store, host: BpfHost, name: str) -> int:
    """The module's exit status; a trap is an error unless we asked it to stop."""
    try:
        start(store)
    except wasmtime.ExitTrap as exc:
        return exc.code
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, EcliError):
            raise cause from None
        if host.stopping:
            return 0
        raise WasmError(f"{name}: the module trapped: {_first_line(exc)}") from None
    except Stopped:
        return 0
    return 0


class _Watchdog:
    """Bumps the engine's epoch (which interrupts the module) at the end of `duration`
    or on SIGINT/SIGTERM, from a thread: the main one is inside wasm code."""

    def __init__(self, engine: wasmtime.Engine, host: BpfHost, duration: float | None) -> None:
        self.engine = engine
        self.host = host
        self.duration = duration
        self.fired = False
        self._read, self._write = os.pipe()
        self._done = threading.Event()

    def __enter__(self) -> _Watchdog:
        os.set_blocking(self._write, False)
        self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._old = {sig: signal.signal(sig, self._handler)
                     for sig in (signal.SIGINT, signal.SIGTERM)}
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _handler(self, _signum: int, _frame: object) -> None:
        self._stop()

    def _stop(self) -> None:
        if not self.host.stopping:
            self.fired = True
            self.host.stopping = True
            self.engine.increment_epoch()

    def _watch(self) -> None:
        ready, _, _ = select.select([self._read], [], [], self.duration)
        if not self._done.is_set() and (ready or self.duration is not None):
            self._stop()

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        os.write(self._write, b"\0")
        self._thread.join()
        signal.set_wakeup_fd(self._old_fd)
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        os.close(self._read)
        os.close(self._write)


def _first_line(exc: BaseException) -> str:
    """The line that says why: wasmtime puts the cause after a backtrace."""
    text = str(exc).strip()
    if "Caused by:" in text:
        text = text.rsplit("Caused by:", 1)[1].strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
