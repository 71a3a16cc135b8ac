"""The built-in runtime for kind `bpf`: parse an object, load it, attach it, report.

Parsing (`elf`, `btf`, `insns`, `spec`, `decode`) is pure Python and never
touches the kernel; `analysis` says what an object can do and `options`
turns its globals into command-line options. `libbpf` is the only module
that loads a C library; `loader` loads one object, `attach/` attaches its
programs on top of that, and `runner` drives a run (`streams` for events,
`maps` for result maps). `probe` is `ecli doctor`'s. `wasm/` runs kind
`wasm`: wasm-bpf modules driving objects through the same loader and attach
layer. Section rules and other kernel facts come from `ecli.kernel`; see
docs/architecture.md.
"""
