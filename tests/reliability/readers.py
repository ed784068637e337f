"""Every reader of the project with a small valid input, for the fuzz tests and the fuzz benchmark."""

from __future__ import annotations

import io
import json

import numpy as np
from ase.build import molecule
from ase.io import write

from scisft.bio.orthologs import read_pairs
from scisft.bio.sequences import read_fasta
from scisft.bio.tables import read_affinities
from scisft.checkpoint import read_manifest, read_tensors
from scisft.materials.tables import read_flow, read_tests
from scisft.potentials.readers import labelled, read_structures


def _xyz() -> bytes:
    buffer = io.StringIO()
    frames = [
        labelled(molecule(n), "x", energy=-10.0 - k, forces=np.full((len(molecule(n)), 3), 0.1))
        for k, n in enumerate(("H2O", "CH4"))
    ]
    write(buffer, frames, format="extxyz")
    return buffer.getvalue().encode()


def _npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        nuclear_charges=np.array([8, 1, 1], dtype=np.uint8),
        coords=molecule("H2O").positions[None].repeat(2, 0),
        energies=np.array([-1.0, -1.1]),
        forces=np.zeros((2, 3, 3)),
    )
    return buffer.getvalue()


def _maml() -> bytes:
    record = {
        "structure": {
            "lattice": {"matrix": [[3.1, 0, 0], [0, 3.1, 0], [0, 0, 3.1]]},
            "sites": [
                {"species": [{"element": "Mo", "occu": 1}], "xyz": [0, 0, 0]},
                {"species": [{"element": "Mo", "occu": 1}], "xyz": [1.55, 1.55, 1.55]},
            ],
        },
        "outputs": {"energy": -21.6, "forces": [[0, 0, 0], [0, 0, 0]], "stress": [1, 2, 3, 0, 0, 0]},
    }
    return json.dumps([record, record]).encode()


def _ani_h5() -> bytes:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        group = handle.create_group("gdb/water")
        group["species"] = np.array([b"O", b"H", b"H"])
        group["coordinates"] = molecule("H2O").positions[None].repeat(2, 0)
        group["energies"] = np.array([-76.4, -76.3])
        group["forces"] = np.zeros((2, 3, 3))
    return buffer.getvalue()


def _manifest_dir(path):
    """read_manifest takes a directory: the fuzzed bytes become its manifest.json."""
    folder = path.with_suffix("")
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_bytes(path.read_bytes())
    return read_manifest(folder)


def _safetensors() -> bytes:
    import torch
    from safetensors.torch import save

    return save({"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(4)})


READERS = {
    "extxyz (potentials)": (read_structures, ".xyz", _xyz),
    "rMD17 npz (potentials)": (read_structures, ".npz", _npz),
    "maml JSON (potentials)": (read_structures, ".json", _maml),
    "ANI HDF5 (potentials)": (read_structures, ".h5", _ani_h5),
    "affinity table (bio)": (
        lambda p: read_affinities(p),
        ".csv",
        lambda: b"smiles,target_id,species,p_affinity\nCCO,P1,human,6.5\nc1ccccc1,P2,mouse,7\n",
    ),
    "FASTA (bio)": (read_fasta, ".fasta", lambda: b">sp|P12345|X\nMKTAYIAKQR\nQISFVK\n>b\nGSHMLEDP\n"),
    "ortholog table (bio)": (read_pairs, ".csv", lambda: b"human_id,mouse_id,identity\nP1,Q1,90\nP2,Q2,85.5\n"),
    "test table (materials)": (
        read_tests,
        ".csv",
        lambda: b"material,temperature_C,mode,stretch,stress_MPa\nr,20,UT,1.5,0.3\nr,20,ET,1.2,0.2\n",
    ),
    "flow table (materials)": (
        read_flow,
        ".csv",
        lambda: b"temperature_C,strain,strain_rate_per_s,stress_MPa\n1100,0.1,0.1,50\n1100,0.2,0.1,55\n",
    ),
    "adapter manifest (core)": (
        _manifest_dir,
        ".json",
        lambda: json.dumps(
            {
                "format": "scisft-adapter",
                "format_version": 1,
                "adapter": "a",
                "modules": [],
                "base": {"fingerprint": "x"},
                "tensors": {},
                "file": {"name": "adapter.safetensors", "bytes": 1, "sha256": "x"},
                "metrics": {},
                "versions": {},
                "extra": {},
            }
        ).encode(),
    ),
    "safetensors (core)": (read_tensors, ".safetensors", _safetensors),
}
