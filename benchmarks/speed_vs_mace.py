"""Benchmark (issue 8): inference speed and memory of our potential and mace-torch side by side, on CPU or a GPU.

Models: the ethanol models that ``python -m benchmarks.rmd17_vs_mace`` trained (ours: 48 channels, l_max 2,
3 layers, 229k parameters; MACE: 64 channels, max_L 1, 2 interactions, correlation 3, 241k), both in float32.
Speed does not depend on the weights, so these stand for any model of the same size.

- System size: periodic cubic boxes of n^3 ethanol molecules (rMD17 ethanol test frame 0 on a grid of 4.5 A, so
  the density of a molecular liquid, ~0.1 atoms/A^3); time of one energy + forces call through each code's ASE
  calculator (median of ``--repeats`` calls after a warm-up, atoms moved by 1e-3 A between calls so nothing is
  cached), as atom-steps per second, and the peak memory of the process (resident set on CPU, allocated on GPU).
- Batch size: the 1000 ethanol test frames in batches of 1, 4, 16 and 64 (energy + forces), structures per second.
- Variants of ours: the 1125-atom box with a LoRA adapter (rank 2) on every node-wise and radial layer, unmerged
  and merged into the base weights, the base model through ``torch.compile`` (``compile=True``; its one-off
  compilation is not timed) and with cuEquivariance's tensor products (``tensor_product="cuequivariance"``: fused
  kernels on CUDA, its PyTorch path on CPU), against the base model; one process, the calls interleaved.

Each measurement runs in a fresh process (peak memory is per measurement; MACE runs in its own virtual environment,
as in rmd17_vs_mace). Results: benchmarks/results/speed_vs_mace_<device>.{json,md}.

    python -m benchmarks.speed_vs_mace [--device cpu|cuda] [--molecules-per-side 1 2 3 5 8 11] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import read, write

from benchmarks.common import ROOT, machine, markdown_table, write_results
from benchmarks.rmd17_vs_mace import WORK as VS_MACE
from benchmarks.rmd17_vs_mace import mace_python

WORK = ROOT / "benchmarks" / "work" / "speed"
SPACING = 4.5  # A between molecule centres

MEASURE = """
import json, resource, sys, time, numpy as np, torch
from ase.io import read
model_path, mode, path, out, device, size = sys.argv[1:7]
{setup}
frames = read(path, index=':')
if mode == 'md':
    atoms = frames[0]
    atoms.calc = calculator()
    atoms.get_forces()
    rng, times = np.random.default_rng(0), []
    for _ in range(int(size)):
        atoms.positions = atoms.positions + rng.normal(0, 1e-3, atoms.positions.shape)
        t = time.perf_counter(); atoms.get_forces()
        if device == 'cuda': torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    seconds = float(np.median(times))
elif mode == 'variants':
    variants = ('base', 'unmerged', 'merged', 'compiled', 'cuequivariance')
    copies = {v: frames[0].copy() for v in variants}
    for v in variants:
        copies[v].calc = calculator(v)
        copies[v].get_forces()
    rng, times = np.random.default_rng(0), {v: [] for v in variants}
    for _ in range(int(size)):
        shift = rng.normal(0, 1e-3, copies['base'].positions.shape)
        for v in variants:
            copies[v].positions = copies[v].positions + shift
            t = time.perf_counter(); copies[v].get_forces(); times[v].append(time.perf_counter() - t)
    seconds = {v: float(np.median(times[v])) for v in variants}
else:
    batch = int(size)
    energy_and_forces(frames[:batch])
    t = time.perf_counter()
    for start in range(0, len(frames), batch):
        energy_and_forces(frames[start:start + batch])
    if device == 'cuda': torch.cuda.synchronize()
    seconds = (time.perf_counter() - t) / len(frames)
peak = (torch.cuda.max_memory_allocated() / 2**20 if device == 'cuda'
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
json.dump({'seconds': seconds, 'peak_mb': peak}, open(out, 'w'))
"""

OURS = """
from scisft import adapter_parameters
from scisft.potentials import ScisftCalculator, load
from scisft.potentials.add_element import AddElementOptions, element_plan
from scisft.potentials.data import collate, to_graphs
def variant_model(variant):  # the base model, or with a random non-zero LoRA on every node-wise and radial layer
    model = load(model_path)
    if variant in ('unmerged', 'merged'):
        element_plan(model, 'O', AddElementOptions(strategy='lora', radial_rank=2)).apply(model, 'speed')
        torch.manual_seed(0)
        with torch.no_grad():
            for p in adapter_parameters(model, 'speed').values():
                p.normal_(0, 1e-2)
    return model
def calculator(variant='base'):
    return ScisftCalculator(variant_model(variant), device=device, dtype='float32', merge_adapters=variant == 'merged',
                            compile=variant == 'compiled',
                            tensor_product='cuequivariance' if variant == 'cuequivariance' else 'e3nn')
model = variant_model('base')
def energy_and_forces(frames):
    out = model.to(device)(collate(to_graphs(frames, model.config.cutoff)).to(device), forces=True)
    return out['energy'], out['forces']
"""

MACE = """
from mace import data as mace_data
from mace.calculators import MACECalculator
from mace.tools import torch_geometric, utils
def calculator(variant='base'):
    return MACECalculator(model_paths=model_path, device=device, default_dtype='float32')
model = calculator().models[0]
z_table = utils.AtomicNumberTable([int(z) for z in model.atomic_numbers])
def energy_and_forces(frames):
    items = [mace_data.AtomicData.from_config(mace_data.config_from_atoms(a), z_table=z_table,
                                              cutoff=float(model.r_max)) for a in frames]
    loader = torch_geometric.dataloader.DataLoader(items, batch_size=len(items), shuffle=False)
    out = model(next(iter(loader)).to(device).to_dict(), compute_force=True)
    return out['energy'], out['forces']
"""


def ethanol_box(molecule: Atoms, per_side: int) -> Atoms:
    """``per_side``^3 copies of ``molecule`` (centred) on a cubic grid of SPACING, periodic."""
    centred = molecule.positions - molecule.positions.mean(axis=0)
    grid = np.stack(np.meshgrid(*[np.arange(per_side)] * 3, indexing="ij"), -1).reshape(-1, 3) * SPACING
    positions = (grid[:, None, :] + centred[None] + SPACING / 2).reshape(-1, 3)
    numbers = np.tile(molecule.numbers, len(grid))
    return Atoms(numbers=numbers, positions=positions, cell=[SPACING * per_side] * 3, pbc=True)


def box_file(molecule: Atoms, per_side: int) -> Path:
    """The extxyz file of ``ethanol_box(molecule, per_side)``, written once."""
    path = WORK / f"box{per_side}.xyz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, ethanol_box(molecule, per_side), format="extxyz")
    return path


def measure(model: str, mode: str, structures: Path, size: int, device: str) -> dict:
    """One measurement in a fresh process: {'seconds': per call (md; variants: per variant, the variants' calls
    interleaved so that a change in the machine's load hits all alike) or per structure (batch), 'peak_mb'}."""
    out = WORK / f"{model}_{mode}_{structures.stem}_{size}_{device}.json"
    if out.exists():
        return json.loads(out.read_text())
    source = MEASURE.replace("{setup}", OURS if model == "ours" else MACE)
    python, path = (
        (sys.executable, VS_MACE / "ours") if model == "ours" else (str(mace_python()), VS_MACE / "mace" / "mace.model")
    )
    command = [python, "-c", source, str(path), mode, str(structures), str(out), device, str(size)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=WORK)
    if result.returncode != 0:
        return {"failed": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no output"}
    return json.loads(out.read_text())


def main() -> None:
    global VS_MACE, WORK
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--molecules-per-side", type=int, nargs="+", default=[1, 2, 3, 5, 8, 11])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="15min", help="which rmd17_vs_mace run's ethanol models to time")
    args = parser.parse_args()
    VS_MACE, WORK = VS_MACE / args.models / "ethanol", WORK / args.models
    if not (VS_MACE / "ours").is_dir() or not (VS_MACE / "mace" / "mace.model").is_file():
        raise SystemExit(f"no trained models in {VS_MACE}: run python -m benchmarks.rmd17_vs_mace first")
    WORK.mkdir(parents=True, exist_ok=True)
    test = read(VS_MACE / "test.xyz", index=":")
    frames = WORK / "frames.xyz"
    if not frames.exists():
        write(frames, [Atoms(a.numbers, a.positions) for a in test], format="extxyz")

    sizes = {}
    for n in args.molecules_per_side:
        box = box_file(test[0], n)
        atoms = 9 * n**3
        sizes[atoms] = {m: measure(m, "md", box, args.repeats, args.device) for m in ("ours", "mace")}
        print(atoms, sizes[atoms], flush=True)
    batches = {b: {m: measure(m, "batch", frames, b, args.device) for m in ("ours", "mace")} for b in (1, 4, 16, 64)}
    variants = measure("ours", "variants", box_file(test[0], 5), 2 * args.repeats, args.device)
    payload = {"machine": machine(), "device": args.device, "sizes": sizes, "batches": batches, "variants": variants}
    write_results(f"speed_vs_mace_{args.device}", payload, summarise(payload))
    print(summarise(payload))


def _speed_ratio(ours: dict, mace: dict) -> str:
    """MACE's time over ours (> 1: ours faster), or '-' when either measurement failed."""
    return f"{mace['seconds'] / ours['seconds']:.2f}" if "seconds" in ours and "seconds" in mace else "-"


def _rate(result: dict, per: float) -> str:
    """``per`` / seconds, or why the measurement failed."""
    return f"{per / result['seconds']:,.0f}" if "seconds" in result else result["failed"]


def summarise(payload: dict) -> str:
    rows = []
    for atoms, per_model in payload["sizes"].items():
        ours, mace = per_model["ours"], per_model["mace"]
        ratio = _speed_ratio(ours, mace)
        memory = " / ".join(f"{r['peak_mb']:.0f}" if "peak_mb" in r else "-" for r in (ours, mace))
        rows.append([atoms, _rate(ours, float(atoms)), _rate(mace, float(atoms)), ratio, memory])
    size_table = markdown_table(
        ["atoms", "ours atom-steps/s", "MACE atom-steps/s", "speed ours/MACE", "peak MB ours / MACE"], rows
    )
    rows = []
    for batch, per_model in payload["batches"].items():
        ours, mace = per_model["ours"], per_model["mace"]
        ratio = _speed_ratio(ours, mace)
        rows.append([batch, _rate(ours, 1.0), _rate(mace, 1.0), ratio])
    batch_table = markdown_table(["batch", "ours structures/s", "MACE structures/s", "speed ours/MACE"], rows)
    seconds = payload["variants"]["seconds"]
    rows = [[v, f"{t * 1000:.1f}", f"{t / seconds['base']:.3f}"] for v, t in seconds.items()]
    variant_table = markdown_table(["ours, 1125 atoms", "ms per call", "time / base"], rows)
    return (
        f"Energy + forces through the ASE calculator, periodic ethanol boxes ({payload['device']}):\n\n{size_table}\n\n"
        f"Batched, 1000 ethanol frames:\n\n{batch_table}\n\nVariants of ours:\n\n{variant_table}\n\n"
        f"Machine: {payload['machine']}"
    )


if __name__ == "__main__":
    main()
