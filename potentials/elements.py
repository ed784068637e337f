"""Periodic-table facts for every element H..Rn, used as continuous element descriptors.

A model's element embedding is ``map(descriptor(Z)) + residual(Z)``: the descriptor gives any element, seen or not,
a well-defined starting point near its chemical neighbours. Descriptor entries (all dimensionless, roughly O(1)):
period, group, block (s/p/d/f one-hot), Pauling electronegativity, covalent radius (Cordero et al. 2008, via
``ase.data``), valence electrons, first ionisation energy and sqrt(Z).

Sources: Pauling electronegativities and first ionisation energies (eV) as tabulated in the CRC Handbook of
Chemistry and Physics. He, Ne and Ar have no Pauling value; their Allen electronegativities (4.16, 4.79, 3.24) stand in.
Lanthanides are placed in group 3 with f-block character (Lu: d-block).
"""

from __future__ import annotations

import math

import torch
from ase.data import atomic_numbers, chemical_symbols, covalent_radii

from scisft.errors import DataError

# Z: Pauling electronegativity, first ionisation energy / eV
_EN_IE = """
1 2.20 13.598  2 4.16 24.587  3 0.98 5.392  4 1.57 9.323  5 2.04 8.298  6 2.55 11.260  7 3.04 14.534
8 3.44 13.618  9 3.98 17.423  10 4.79 21.565  11 0.93 5.139  12 1.31 7.646  13 1.61 5.986  14 1.90 8.152
15 2.19 10.487  16 2.58 10.360  17 3.16 12.968  18 3.24 15.760  19 0.82 4.341  20 1.00 6.113  21 1.36 6.561
22 1.54 6.828  23 1.63 6.746  24 1.66 6.767  25 1.55 7.434  26 1.83 7.902  27 1.88 7.881  28 1.91 7.640
29 1.90 7.726  30 1.65 9.394  31 1.81 5.999  32 2.01 7.899  33 2.18 9.789  34 2.55 9.752  35 2.96 11.814
36 3.00 14.000  37 0.82 4.177  38 0.95 5.695  39 1.22 6.217  40 1.33 6.634  41 1.60 6.759  42 2.16 7.092
43 1.90 7.280  44 2.20 7.361  45 2.28 7.459  46 2.20 8.337  47 1.93 7.576  48 1.69 8.994  49 1.78 5.786
50 1.96 7.344  51 2.05 8.608  52 2.10 9.010  53 2.66 10.451  54 2.60 12.130  55 0.79 3.894  56 0.89 5.212
57 1.10 5.577  58 1.12 5.539  59 1.13 5.473  60 1.14 5.525  61 1.13 5.582  62 1.17 5.644  63 1.20 5.670
64 1.20 6.150  65 1.10 5.864  66 1.22 5.939  67 1.23 6.022  68 1.24 6.108  69 1.25 6.184  70 1.10 6.254
71 1.27 5.426  72 1.30 6.825  73 1.50 7.550  74 2.36 7.864  75 1.90 7.834  76 2.20 8.438  77 2.20 8.967
78 2.28 8.959  79 2.54 9.226  80 2.00 10.438  81 1.62 6.108  82 2.33 7.417  83 2.02 7.286  84 2.00 8.414
85 2.20 9.318  86 2.20 10.748
"""
ELECTRONEGATIVITY: dict[int, float] = {}
IONISATION_EV: dict[int, float] = {}
_fields = _EN_IE.split()
for _k in range(0, len(_fields), 3):
    ELECTRONEGATIVITY[int(_fields[_k])] = float(_fields[_k + 1])
    IONISATION_EV[int(_fields[_k])] = float(_fields[_k + 2])
MAX_Z = 86
_PERIOD_STARTS = [1, 3, 11, 19, 37, 55, 87]


def period(z: int) -> int:
    return max(i + 1 for i, start in enumerate(_PERIOD_STARTS) if z >= start)


def group(z: int) -> int:
    """IUPAC group 1-18 (lanthanides: 3)."""
    p = period(z)
    offset = z - _PERIOD_STARTS[p - 1]
    if p == 1:
        return 1 if z == 1 else 18
    if p <= 3:
        return offset + 1 if offset < 2 else offset + 11
    if p == 6 and 57 <= z <= 71:
        return 3
    if p == 6:
        offset = offset if z < 57 else offset - 14
    return offset + 1


def block(z: int) -> str:
    if 57 <= z <= 70:
        return "f"
    g = group(z)
    if z == 2 or g <= 2:
        return "s"
    return "d" if g <= 12 else "p"


def valence_electrons(z: int) -> int:
    if 57 <= z <= 71:
        return 3
    g = group(z)
    return g if g <= 12 else g - 10


def descriptor(z: int) -> list[float]:
    """The element's descriptor vector (length ``DESCRIPTOR_SIZE``)."""
    if not 1 <= z <= MAX_Z:
        raise DataError(f"element Z={z} has no descriptor; scisft knows H..Rn (Z = 1..{MAX_Z})")
    one_hot = [float(block(z) == b) for b in "spdf"]
    return [
        period(z) / 7.0,
        group(z) / 18.0,
        *one_hot,
        (ELECTRONEGATIVITY[z] - 2.0) / 0.8,
        (float(covalent_radii[z]) - 1.4) / 0.5,
        valence_electrons(z) / 8.0,
        (IONISATION_EV[z] - 8.0) / 3.0,
        math.sqrt(z) / 9.0,
    ]


DESCRIPTOR_SIZE = len(descriptor(1))


def descriptor_table(symbols: list[str]) -> torch.Tensor:
    """Descriptors of ``symbols`` as a (len(symbols), DESCRIPTOR_SIZE) float tensor."""
    return torch.tensor([descriptor(atomic_number(s)) for s in symbols], dtype=torch.get_default_dtype())


def atomic_number(symbol: str) -> int:
    """Atomic number of a chemical symbol, with a clear error for a symbol that is not one."""
    if symbol not in atomic_numbers or atomic_numbers[symbol] == 0:
        raise DataError(f"'{symbol}' is not a chemical symbol (write e.g. 'O', 'Na', 'W')")
    return atomic_numbers[symbol]


def symbol(z: int) -> str:
    return chemical_symbols[z]
