# Reproducible build of a kernel-only project (kinds bpf and eunomia-json):
# docker build -o out . (the OCI layout lands in out/oci)
FROM debian:bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      clang llvm libbpf-dev bpftool python3-pip python3-venv ca-certificates \
    && python3 -m venv /venv && /venv/bin/pip install ebpfhub
WORKDIR /src
COPY . .
# No /sys/kernel/btf in a build container: bring a vmlinux.h (see README).
RUN test -s vmlinux.h || { echo "put a vmlinux.h beside {{name}}.bpf.c" >&2; exit 1; }
RUN /venv/bin/ecli build .
FROM scratch
COPY --from=build /src/build/oci /oci
