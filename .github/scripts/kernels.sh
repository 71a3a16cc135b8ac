#!/bin/sh
# kernels.yml: every published version's test on the kernel matrix (generator/kernels.toml:
# the runner's kernel and Debian's kernels under qemu TCG, amd64 and arm64), merged into
# index/kernels.json and committed, so the next publish shows it on each package page
# and in api/v1 (`kernels`). Runs as root on Debian: BPF on the host, apt for the kernels.
set -eu
make deps
.venv/bin/python -m generator --github kernels
if [ -n "$(git status --porcelain -- index/kernels.json)" ]; then
  git add index/kernels.json
  git -c user.name="github-actions[bot]" \
      -c user.email="41898282+github-actions[bot]@users.noreply.github.com" \
      commit -q -m "index: the kernel matrix's results" -- index/kernels.json
  git push -q origin "HEAD:${GITHUB_REF_NAME:-main}"
  echo "index/kernels.json committed and pushed"
fi
