# Builds build/probe.bpf.o, the eBPF object {{loader}} loads.
OUTPUT  := build
BPF_DIR := {{bpf_dir}}
CLANG   ?= clang
BPFTOOL ?= bpftool
ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
KERNEL_BTF := /sys/kernel/btf/vmlinux
# Paths in the object relative to the project: the same sources give the same bytes in any folder.
PREFIX_MAP := -ffile-prefix-map=$(CURDIR)=.

.PHONY: all clean
all: $(OUTPUT)/probe.bpf.o

# vmlinux.h from this kernel's BTF; without BTF, put a vmlinux.h in {{bpf_dir}}/ (see README).
$(BPF_DIR)/vmlinux.h:
	$(BPFTOOL) btf dump file $(KERNEL_BTF) format c > $@.tmp && mv $@.tmp $@

$(OUTPUT)/probe.bpf.o: $(BPF_DIR)/probe.bpf.c $(BPF_DIR)/vmlinux.h
	mkdir -p $(OUTPUT)
	$(CLANG) -target bpf -g -O2 $(PREFIX_MAP) -D__TARGET_ARCH_$(ARCH) -I$(BPF_DIR) -c $< -o $@

clean:
	rm -rf $(OUTPUT) $(BPF_DIR)/vmlinux.h
