"""The built-in runtime for kind `bpf`: parse an object, load it, attach, print.

Parsing (`elf`, `btf`, `spec`) is pure Python and never touches the kernel;
`libbpf` is the only module that loads the C library; `loader` owns the
kernel objects of one run; `events` and `options` sit on top.
"""
