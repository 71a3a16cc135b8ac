# Reproducible build: docker build -o out . (out/oci: the OCI layout{{docker_outputs}})
FROM {{docker_image}} AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      {{docker_packages}} \
    && python3 -m venv /venv && /venv/bin/pip install ebpfhub
WORKDIR /src
COPY . .
# No /sys/kernel/btf in a build container: bring {{bpf_dir}}/vmlinux.h (see README).
RUN /venv/bin/ecli build .
FROM scratch
COPY --from=build /src/build/oci /oci{{docker_extra}}
