"""Artifacts in bumblebee's format (solo-io/bumblebee), made here for tests."""

from __future__ import annotations

from pathlib import Path

from ecli.oci import mediatypes
from ecli.oci import registry as oci_registry
from ecli.oci.manifest import Descriptor, Manifest
from ecli.oci.reference import OciReference
from ecli.oci.store import Store


def write_bumblebee(store: Store, program: bytes, description: str = "") -> str:
    """Write `program` as bee would: an empty config and one layer titled program.o.

    Returns the manifest's digest.
    """
    config = store.write_blob(b"{}")
    layer = store.write_blob(program)
    manifest = Manifest(
        mediatypes.OCI_MANIFEST,
        Descriptor(mediatypes.BUMBLEBEE_CONFIG, config, 2,
                   {mediatypes.ANNOTATION_TITLE: "config.json"}),
        (Descriptor(mediatypes.BUMBLEBEE_PROGRAM, layer, len(program),
                    {mediatypes.ANNOTATION_TITLE: "program.o"}),),
        annotations={"org.opencontainers.image.description": description} if description
        else {},
    )
    return store.write_blob(manifest.to_json())


def push_bumblebee(program: bytes, ref: OciReference, work: Path) -> str:
    """Push a bee-format artifact of `program` to `ref`; returns the manifest digest."""
    layout = Store(work)
    layout.add_ref(ref.tag or "latest", write_bumblebee(layout, program))
    return oci_registry.push(layout, ref)
