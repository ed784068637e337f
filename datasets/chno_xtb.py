"""Recipe for the project's own molecular data, "chno-xtb": small C/H/N and C/H/N/O molecules labelled with GFN2-xTB.

For each molecule of the curated SMILES lists below: RDKit adds hydrogens, embeds a conformer (ETKDG, fixed seed)
and relaxes it with MMFF; GFN2-xTB (tblite's ASE calculator) relaxes it further (BFGS, fmax 0.05 eV/A, at most 100
steps). From that minimum come the labelled geometries: four random displacements (Gaussian, sigma 0.02, 0.04, 0.06,
0.08 A) and six frames of Langevin dynamics at 600 K (0.5 fs steps, friction 0.02/fs, one frame every 40 steps after
40 steps of warm-up). Each geometry gets GFN2-xTB energy (eV) and forces (eV/A). Molecules are split into training
and test sets by molecule (every fifth molecule of each list is a test molecule), so test molecules are unseen.

Files (extended XYZ, xz-compressed; ``info``: smiles, molecule, kind = rattle/md):
``chn_train``/``chn_test`` -- C, H, N only; ``cho_train``/``cho_test`` -- molecules with O (and possibly N).

The displacements stay within what 600 K dynamics visits: with sigma up to 0.15 A (a first version) a few
geometries had forces of tens of eV/A, which dominated any squared-error loss.

Reproducible from this recipe: ``scisft data make chno-xtb --out DIR`` (about 5 minutes on 2 CPU cores);
seeds are fixed and GFN2-xTB is deterministic, so the files match the committed ones up to the last digits of
floating-point output.
"""

from __future__ import annotations

import lzma
import os
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.optimize import BFGS

from scisft.errors import ConfigError, DataError
from scisft.files import atomic_path
from scisft.potentials.readers import labelled

HERE = Path(__file__).resolve().parent / "chno_xtb"

CHN = """
C CC CCC CCCC CC(C)C CCCCC CC(C)(C)C C1CC1 C1CCC1 C1CCCC1 C1CCCCC1 CC1CCCCC1 C=C CC=C CCC=C CC=CC C=C(C)C
C=CC=C CC(=C)C=C C1=CCCC1 C1=CCCCC1 C#C CC#C CCC#C CC#CC C#CC=C c1ccccc1 Cc1ccccc1 CCc1ccccc1 Cc1ccccc1C
Cc1cccc(C)c1 Cc1ccc(C)cc1 C=Cc1ccccc1 C#Cc1ccccc1 CC(C)c1ccccc1 Cc1cc(C)cc(C)c1 C1Cc2ccccc2C1 C1=Cc2ccccc2C1
c1ccc2ccccc2c1 C1CC2CCC1C2 C=C=C CCCc1ccccc1 N CN CNC CN(C)C CCN CCNCC CCCN CC(C)N CCCCN CC(C)(C)N NCCN NN
CNN CC#N CCC#N C=CC#N CCCC#N N#CC#N C#N c1ccncc1 Cc1ccccn1 Cc1cccnc1 Cc1ccncc1 c1cncnc1 c1cnccn1 c1ccnnc1
c1cc[nH]c1 Cn1cccc1 c1c[nH]cn1 c1cn[nH]c1 c1nc[nH]n1 Nc1ccccc1 CNc1ccccc1 CN(C)c1ccccc1 NCc1ccccc1
N#Cc1ccccc1 c1ccc2[nH]ccc2c1 c1ccc2ncccc2c1 c1ccc2cnccc2c1 C1CNC1 C1CCNC1 C1CCNCC1 C1CNCCN1 C1CN1
CN1CCCCC1 C1CN2CCC1CC2 C1CN2CCN1CC2 C1=NCCC1 Nc1ccccn1 Nc1ccncc1 NC(N)=N NC=N CC(N)=N C[N+]#[C-] N#CN
CN(C)C#N NCC#N C=CCN C#CCN NC1CC1 NC1CCCCC1 CCC(C)N CCN(CC)CC Cc1ccccc1N Cc1ccc(N)cc1 NNc1ccccc1
Nc1cccc2ccccc12 Cn1ccnc1 Cc1ncc[nH]1 Cc1ccncn1 c1nnn[nH]1 c1ncncn1 c1ccc(cc1)N=Nc1ccccc1
"""

CHNO = """
O CO CCO CCCO CC(C)O CCCCO CC(C)(C)O OCCO OCC(O)CO COC CCOCC C1CCOC1 C1CCOCC1 C1COCCO1 c1ccoc1 Cc1ccco1 C=O
CC=O CCC=O CC(C)=O CCC(C)=O O=C1CCCCC1 O=C1CCCC1 C=CC=O OC=O CC(=O)O CCC(=O)O COC=O COC(C)=O CCOC(C)=O
Oc1ccccc1 COc1ccccc1 O=Cc1ccccc1 OC(=O)c1ccccc1 CC(=O)c1ccccc1 OCc1ccccc1 Cc1ccc(O)cc1 Oc1ccccc1O
Oc1ccc(O)cc1 O=Cc1ccco1 O=CCC=O CC(=O)CC(C)=O O=CC=O C1CO1 CC1CO1 C1COC1 NC=O CC(N)=O CNC=O CN(C)C=O
CNC(C)=O NC(N)=O COC(N)=O NCC(=O)O CC(N)C(=O)O C[N+](=O)[O-] CC[N+](=O)[O-] O=[N+]([O-])c1ccccc1 NO CON
CC(C)=NO CC=NO C1COCCN1 c1cocn1 c1cnoc1 O=c1cccc[nH]1 [O-][n+]1ccccc1 CC(=O)Nc1ccccc1 CC(=O)Nc1ccc(O)cc1
O=c1cc[nH]c(=O)[nH]1 Nc1cc[nH]c(=O)n1 Cc1c[nH]c(=O)[nH]c1=O Cn1cnc2c1c(=O)n(C)c(=O)n2C NC(=O)c1cccnc1
CN=C=O NCCO CN1CCCC1=O O=C1CCCN1 O=C1CCC(=O)N1 O=C1OC(=O)C=C1 CC(O)C(=O)O C=CC(=O)O C=CC(=O)OC CC(=O)OC=C
COC(=O)OC COCCO COCCOC OC1CCCCC1 CC(O)CO OCCCO CCC(C)O CC(C)CO C=CCO C#CCO COCC#N N#CCO CC(=O)C#N
O=C(O)C(=O)O CC(=O)OC(C)=O O=C1CCCO1 CC1=CC(=O)CC(C)(C)C1 O=C1C=CC(=O)C=C1 Oc1ccncc1 Oc1cccnc1
COc1ccncc1 CC(=O)N1CCCC1 O=C(O)c1ccccn1 NC(=O)CC(N)=O NCC(N)=O OC(=O)CN CNC(=O)NC
"""


def smiles_lists() -> dict[str, list[str]]:
    """The curated SMILES: 'chn' (C, H, N only) and 'cho' (with O)."""
    return {"chn": CHN.split(), "cho": CHNO.split()}


def _embed(smiles: str, seed: int) -> Atoms:
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise DataError(f"RDKit cannot parse {smiles!r}", field="smiles")
    mol = Chem.AddHs(mol)
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise DataError(f"RDKit cannot embed {smiles!r} in 3D", field="smiles")
    AllChem.MMFFOptimizeMolecule(mol)
    return Atoms([a.GetSymbol() for a in mol.GetAtoms()], positions=mol.GetConformer().GetPositions())


def _label(atoms: Atoms, calculator, smiles: str, kind: str) -> Atoms:
    atoms = atoms.copy()
    atoms.calc = calculator
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    out = labelled(Atoms(atoms.symbols, positions=atoms.positions), "", energy=energy, forces=forces)
    out.info.update(smiles=smiles, kind=kind)
    out.info.pop("source")
    return out


def sample_molecule(smiles: str, seed: int, quick: bool = False) -> list[Atoms]:
    """The labelled geometries of one molecule (see module docstring)."""
    try:
        from tblite.ase import TBLite
    except ImportError as error:
        raise ConfigError("the chno-xtb recipe needs tblite (GFN2-xTB): pip install 'scisft[xtb]'") from error

    calculator = TBLite(method="GFN2-xTB", verbosity=0)
    atoms = _embed(smiles, seed)
    atoms.calc = calculator
    BFGS(atoms, logfile=None).run(fmax=0.05, steps=100)
    rng = np.random.default_rng(seed)
    frames = []
    for sigma in (0.02, 0.04, 0.06, 0.08)[: 2 if quick else 4]:
        moved = atoms.copy()
        moved.positions += rng.normal(0.0, sigma, moved.positions.shape)
        frames.append(_label(moved, calculator, smiles, "rattle"))
    md = atoms.copy()
    md.calc = calculator
    MaxwellBoltzmannDistribution(md, temperature_K=600, rng=rng)
    dyn = Langevin(md, 0.5 * units.fs, temperature_K=600, friction=0.02 / units.fs, rng=rng, fixcm=False)
    dyn.run(40)
    for _ in range(2 if quick else 6):
        dyn.run(40)
        frames.append(_label(md, calculator, smiles, "md"))
    return frames


def write_xyz(path: Path, structures: list[Atoms]) -> None:
    """Extended XYZ, xz-compressed, written atomically."""
    with atomic_path(path) as tmp, lzma.open(tmp, "wt", encoding="utf-8") as handle:
        write(handle, structures, format="extxyz")


def make(out: str | os.PathLike | None = None, quick: bool = False) -> Path:
    """Run the recipe; writes chn_/cho_ train/test files into ``out`` (default: the committed folder)."""
    out = Path(out) if out is not None else HERE
    out.mkdir(parents=True, exist_ok=True)
    for group, smiles in smiles_lists().items():
        chosen = smiles[:6] if quick else smiles
        train, test = [], []
        for k, s in enumerate(chosen):
            frames = sample_molecule(s, seed=1000 + k, quick=quick)
            for atoms in frames:
                atoms.info["molecule"] = k
            (test if k % 5 == 4 else train).extend(frames)
        write_xyz(out / f"{group}_train.extxyz.xz", train)
        write_xyz(out / f"{group}_test.extxyz.xz", test)
    return out
