#!/bin/sh
# kernels.yml: every published version's test on the kernel matrix (generator/kernels.toml:
# the runner's kernel and Debian's kernels under qemu TCG, amd64 and arm64), merged into
# index/kernels.json and committed, so the next publish shows it on each package page
# and in api/v1 (`kernels`). Runs as root on Debian: BPF on the host, apt for the kernels.
set -eu
make deps
.venv/bin/python -m generator --github kernels
sh "$(dirname "$0")/commit-back.sh" index/kernels.json "index: the kernel matrix's results"
