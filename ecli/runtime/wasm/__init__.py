"""wasm-bpf modules: a WebAssembly program that loads and drives eBPF objects.

`hostabi` owns the host ABI (the `wasm_bpf` import module of eunomia-bpf's
wasm-bpf runtime) over ecli's own loader and attach layer; `runner` owns the
wiring (engine, limits, WASI, interruption); `embedded` finds the eBPF
objects a module carries, for permissions. `wasmtime` is imported only here.
"""
