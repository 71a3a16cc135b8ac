"""Facts about the kernel's eBPF interface, each with one owner, below everything else.

`sections` is the catalogue of SEC() names (program type, hook, options,
capability, minimum kernel); `types` names program and map types by value
and the release that added each; `system` reads what the running machine
has (release, vmlinux BTF, capabilities, tracefs, cgroup v2, CPUs). None of
them loads a C library or imports the rest of ecli but `ecli.errors`, so
argument parsing, the hub's inspection and doctor can all read them cheaply.
"""
