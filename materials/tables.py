"""Tidy tables of material tests, their validation, and converters for published data.

Hyperelastic test table (CSV), one row per measured point:

    material, temperature_C | temperature_K | temperature ("20C", "293.15K"), mode, stretch, stress_MPa
    [, stretch2, stress2_MPa]                        (general biaxial BT: both stretches; stress2 = P22)

``mode`` is UT, ET, PS, BT or SS (see ``scisft.materials.kinematics``); stresses are nominal (first Piola-Kirchhoff)
in MPa -- ``stress_kPa`` or ``stress_Pa`` columns are converted; a bare ``stress`` column is refused, since its unit
is unknown. Temperatures are stored in K. A temperature column must say its unit once: mixing "20C" and "300K" in one
column, or giving both temperature_C and temperature_K, is an error.

Flow-curve table (hot deformation of metals), one row per point:

    material, temperature_C | temperature_K | temperature, strain, strain_rate_per_s, stress_MPa

Errors name the file, the row (1-based, as a spreadsheet shows it, header = row 1) and the column.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from scisft.errors import DataError
from scisft.materials.kinematics import MODES

KELVIN = 273.15
STRESS_UNITS = {"stress_MPa": 1.0, "stress_kPa": 1e-3, "stress_Pa": 1e-6}
TEST_COLUMNS = ["material", "temperature_K", "mode", "stretch", "stretch2", "stress_MPa", "stress2_MPa"]
FLOW_COLUMNS = ["material", "temperature_K", "strain", "strain_rate_per_s", "stress_MPa"]


def _read_csv(path: str | os.PathLike) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV table ({exc})", file=path) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError("table has no rows", file=path)
    return frame


def _numeric(frame: pd.DataFrame, column: str, path, required: bool = True) -> np.ndarray:
    if column not in frame:
        if required:
            raise DataError("missing column", file=path, field=column, fix=f"add a '{column}' column")
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) & (frame[column].notna().to_numpy() | required)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"not a finite number: {frame[column].iloc[row]!r}", file=path, row=row + 2, field=column)
    return values


def temperatures_kelvin(frame: pd.DataFrame, path) -> np.ndarray:
    """Temperatures in K from temperature_C, temperature_K or a temperature column with unit suffixes."""
    given = [c for c in ("temperature_C", "temperature_K", "temperature") if c in frame]
    if not given:
        raise DataError(
            "missing column",
            file=path,
            field="temperature_C",
            fix="add temperature_C or temperature_K (or temperature with values like '20C')",
        )
    if len(given) > 1:
        raise DataError(
            f"mixed temperature units: columns {given}",
            file=path,
            field=given[0],
            fix="give temperatures in one column only",
        )
    column = given[0]
    if column != "temperature":
        values = _numeric(frame, column, path)
        kelvin = values + KELVIN if column == "temperature_C" else values
    else:
        text = frame[column].astype(str).str.strip().str.upper()
        units = text.str[-1]
        if not units.isin(["C", "K"]).all():
            row = int(np.argmax(~units.isin(["C", "K"]).to_numpy()))
            raise DataError(
                f"temperature {frame[column].iloc[row]!r} has no unit",
                file=path,
                row=row + 2,
                field=column,
                fix="write e.g. '20C' or '293.15K', or name the column temperature_C",
            )
        if units.nunique() > 1:
            raise DataError(
                "mixed temperature units (C and K) in one column",
                file=path,
                field=column,
                fix="use one unit for the whole column",
            )
        number = pd.to_numeric(text.str[:-1], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(number).all():
            row = int(np.argmax(~np.isfinite(number)))
            raise DataError(f"not a temperature: {frame[column].iloc[row]!r}", file=path, row=row + 2, field=column)
        kelvin = number + KELVIN if units.iloc[0] == "C" else number
    if (kelvin <= 0).any():
        row = int(np.argmax(kelvin <= 0))
        raise DataError(
            f"temperature {kelvin[row]:.2f} K is not above absolute zero", file=path, row=row + 2, field=column
        )
    return kelvin


def _stress(frame: pd.DataFrame, path, stem: str = "stress", required: bool = True) -> np.ndarray:
    names = {f"{stem}{k.removeprefix('stress')}": f for k, f in STRESS_UNITS.items()}
    given = [c for c in names if c in frame]
    if stem in frame and not given:
        raise DataError(
            "stress column without a unit", file=path, field=stem, fix=f"name it {stem}_MPa (or {stem}_kPa, {stem}_Pa)"
        )
    if len(given) > 1:
        raise DataError(f"mixed stress units: columns {given}", file=path, field=given[0])
    if not given:
        if required:
            raise DataError("missing column", file=path, field=f"{stem}_MPa")
        return np.full(len(frame), np.nan)
    return _numeric(frame, given[0], path, required) * names[given[0]]


def validate_tests(frame: pd.DataFrame, path="table") -> pd.DataFrame:
    """Normalise a hyperelastic test table to TEST_COLUMNS (K, MPa), with clear errors for bad rows."""
    if "mode" not in frame:
        raise DataError("missing column", file=path, field="mode")
    modes = frame["mode"].astype(str).str.strip().str.upper()
    unknown = ~modes.isin(MODES)
    if unknown.any():
        row = int(np.argmax(unknown.to_numpy()))
        raise DataError(
            f"unknown load mode {frame['mode'].iloc[row]!r}",
            file=path,
            row=row + 2,
            field="mode",
            fix=f"use one of {', '.join(MODES)}",
        )
    stretch = _numeric(frame, "stretch", path)
    stretch2 = _numeric(frame, "stretch2", path, required=False)
    stretched = modes.to_numpy() != "SS"
    if (stretch[stretched] <= 0).any() or (np.nan_to_num(stretch2, nan=1.0) <= 0).any():
        row = int(np.argmax((stretch <= 0) & stretched | (np.nan_to_num(stretch2, nan=1.0) <= 0)))
        raise DataError(
            "stretches must be positive (a stretch is a length ratio)", file=path, row=row + 2, field="stretch"
        )
    biaxial = modes.to_numpy() == "BT"
    if np.isnan(stretch2[biaxial]).any():
        row = int(np.argmax(biaxial & np.isnan(stretch2)))
        raise DataError("mode BT needs stretch2", file=path, row=row + 2, field="stretch2")
    out = pd.DataFrame(
        {
            "material": frame["material"].astype(str) if "material" in frame else "material",
            "temperature_K": temperatures_kelvin(frame, path),
            "mode": modes.to_numpy(),
            "stretch": stretch,
            "stretch2": stretch2,
            "stress_MPa": _stress(frame, path),
            "stress2_MPa": _stress(frame, path, "stress2", required=False),
        }
    )
    return out[TEST_COLUMNS]


def read_tests(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a hyperelastic test table (see module docstring)."""
    return validate_tests(_read_csv(path), path)


def validate_flow(frame: pd.DataFrame, path="table") -> pd.DataFrame:
    """Normalise a flow-curve table to FLOW_COLUMNS (K, MPa, 1/s), with clear errors for bad rows."""
    strain = _numeric(frame, "strain", path)
    rate = _numeric(frame, "strain_rate_per_s", path)
    if (strain < 0).any():
        raise DataError(
            "negative strain",
            file=path,
            row=int(np.argmax(strain < 0)) + 2,
            field="strain",
            fix="give the magnitude of the true strain",
        )
    if (rate <= 0).any():
        raise DataError(
            "strain rates must be positive (1/s)",
            file=path,
            row=int(np.argmax(rate <= 0)) + 2,
            field="strain_rate_per_s",
        )
    return pd.DataFrame(
        {
            "material": frame["material"].astype(str) if "material" in frame else "material",
            "temperature_K": temperatures_kelvin(frame, path),
            "strain": strain,
            "strain_rate_per_s": rate,
            "stress_MPa": _stress(frame, path),
        }
    )[FLOW_COLUMNS]


def read_flow(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a flow-curve table (see module docstring)."""
    return validate_flow(_read_csv(path), path)


# -- converters for published data sets (see datasets/ for their cards) -------------------------------------------


def from_cann_rubber(path: str | os.PathLike) -> tuple[pd.DataFrame, int]:
    """rubber_multiT.csv (Linka & Kuhl's CANN collection): rows with a stated temperature; returns (table, skipped).

    Rows with temperature 'unspecified' (Mooney 1940, Blatz & Ko 1962) cannot enter a temperature-aware table and
    are skipped; their number is returned so the caller can say so.
    """
    raw = _read_csv(path)
    known = raw["temperature"].astype(str).str.strip().str.upper().str.match(r"^-?[0-9.]+[CK]$")
    table = validate_tests(
        pd.DataFrame(
            {
                "material": raw["material"],
                "temperature": raw["temperature"],
                "mode": raw["mode"],
                "stretch": raw["stretch"],
                "stress_MPa": raw["P11_MPa"],
            }
        )[known.to_numpy()].reset_index(drop=True),
        path,
    )
    return table, int((~known).sum())


def from_steinmann(folder: str | os.PathLike) -> pd.DataFrame:
    """Treloar's 20 C data as tabulated by Steinmann et al. (uniaxial/equibiaxial/pure_shear_steinmann.csv)."""
    parts = []
    for mode, name in (("UT", "uniaxial"), ("ET", "equibiaxial"), ("PS", "pure_shear")):
        raw = _read_csv(Path(folder) / f"{name}_steinmann.csv")
        parts.append(
            pd.DataFrame(
                {
                    "material": "Treloar1944_NR",
                    "temperature_C": 20.0,
                    "mode": mode,
                    "stretch": raw["stretch"],
                    "stress_MPa": raw["pk1"],
                }
            )
        )
    return validate_tests(pd.concat(parts, ignore_index=True), folder)


def from_kawabata(path: str | os.PathLike, temperature_c: float) -> pd.DataFrame:
    """Kawabata et al. (1981) general biaxial tests; the source states no temperature, so the caller must."""
    raw = _read_csv(path)
    return validate_tests(
        pd.DataFrame(
            {
                "material": "Kawabata1981_IR",
                "temperature_C": float(temperature_c),
                "mode": "BT",
                "stretch": raw["lambda1"],
                "stretch2": raw["lambda2"],
                "stress_MPa": raw["P1_MPa"],
                "stress2_MPa": raw["P2_MPa"],
            }
        ),
        path,
    )


def from_gleeble(path: str | os.PathLike) -> pd.DataFrame:
    """Hot-compression flow curves (strain, strain_rate_per_s, temperature_C, stress_MPa) as a flow table."""
    frame = _read_csv(path)
    frame.insert(0, "material", "medium-carbon steel (Tize Mha et al. 2023)")
    return validate_flow(frame, path)
