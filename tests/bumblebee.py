"""Artifacts in bumblebee's format (solo-io/bumblebee), made here for tests."""

from __future__ import annotations

from pathlib import Path

from ecli.oci import mediatypes
from ecli.oci import registry as oci_registry
from ecli.oci.manifest import Descriptor, Manifest
from ecli.oci.reference import OciReference
from ecli.oci.store import Store


def push_bumblebee(program: bytes, ref: OciReference, work: Path) -> str:
    """Push `program` as bee would: an empty config and one layer titled program.o."""
    layout = Store(work)
    config = layout.write_blob(b"{}")
    layer = layout.write_blob(program)
    manifest = Manifest(
        mediatypes.OCI_MANIFEST,
        Descriptor(mediatypes.BUMBLEBEE_CONFIG, config, 2,
                   {mediatypes.ANNOTATION_TITLE: "config.json"}),
        (Descriptor(mediatypes.BUMBLEBEE_PROGRAM, layer, len(program),
                    {mediatypes.ANNOTATION_TITLE: "program.o"}),),
    )
    layout.add_ref(ref.tag or "latest", layout.write_blob(manifest.to_json()))
    return oci_registry.push(layout, ref)
