package main

// `go generate` makes bpf/vmlinux.h from this kernel's BTF (unless it exists)
// and compiles bpf/probe.bpf.c into probe_bpfel.o plus its Go bindings.
//go:generate sh -c "test -s bpf/vmlinux.h || bpftool btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h"
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -type event probe bpf/probe.bpf.c -- -Ibpf
