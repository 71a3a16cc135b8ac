"""The only place that names OCI media types.

Our own types live under `application/vnd.ebpfhub.*`; the OCI ones are the
standard manifest and index types; bumblebee's are read for compatibility.
docs/formats.md documents each of them.
"""

from __future__ import annotations

# Standard OCI.
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

# eBPF Hub packages.
ARTIFACT_TYPE = "application/vnd.ebpfhub.package.v1"
PACKAGE_CONFIG = "application/vnd.ebpfhub.package.config.v1+json"
BPF_OBJECT = "application/vnd.ebpfhub.bpf.object.v1+elf"
BUNDLE_TAR_GZIP = "application/vnd.ebpfhub.bundle.v1.tar+gzip"
EVENT_BTF = "application/vnd.ebpfhub.event.btf.v1"  # event types from a header (formats.md)
# kind eunomia-json: the layer is an eunomia-bpf package.json (formats.md, ecli.oci.eunomia)
EUNOMIA_PACKAGE = "application/vnd.ebpfhub.eunomia.package.v1+json"

# The index entry an `ecli save` archive carries for each package (docs/formats.md):
# an artifact whose one layer is the package's api/v1 document, its config OCI's empty one.
INDEX_ENTRY = "application/vnd.ebpfhub.index.entry.v1"
INDEX_PACKAGE_DOCUMENT = "application/vnd.ebpfhub.index.package.v1+json"
# OCI's empty descriptor: the config of an artifact that has none, and its bytes.
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = b"{}"

# wasm modules (kind wasm): the layer type wasm-to-oci, oras and eunomia-bpf's ecli push
# use, ours too; their config type, whose artifacts (config `{}`) run as kind wasm.
WASM_MODULE = "application/vnd.wasm.content.layer.v1+wasm"
WASM_CONFIG = "application/vnd.wasm.config.v1+json"

# bumblebee (solo-io/bumblebee) artifacts, run as kind `bpf`.
BUMBLEBEE_CONFIG = "application/ebpf.oci.image.config.v1+json"
BUMBLEBEE_PROGRAM = "application/ebpf.oci.image.program.v1+binary"

# cosign's signatures (v2, the `sha256-HEX.sig` tag): a config and one layer per signature.
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
COSIGN_SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
# A Sigstore bundle attached as an OCI 1.1 referrer (cosign v3): the referrer manifest's
# artifactType and its one layer; its config is the OCI empty descriptor.
SIGSTORE_BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"

# The annotation OCI tools use for a layer's file name.
ANNOTATION_TITLE = "org.opencontainers.image.title"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
CONFIG_TYPES = (PACKAGE_CONFIG, BUMBLEBEE_CONFIG, WASM_CONFIG)
BPF_OBJECT_TYPES = (BPF_OBJECT, BUMBLEBEE_PROGRAM)
