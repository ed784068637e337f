"""The demo's report: one summary table on the terminal; report.md (with figures) and report.json on disk."""

from __future__ import annotations

from pathlib import Path

from scisft.files import write_json, write_text

TITLES = {
    "potentials": "Adding oxygen to a C/H/N interatomic potential (GFN2-xTB data, gated adapter)",
    "bio": "Moving a human drug-target affinity model to mouse (Guide to Pharmacology 2020.5)",
    "materials": "Adapting a rubber law from 20 C to 50 C with uniaxial tests only (Treloar 1944)",
}


def _value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def summary_table(results: dict[str, dict]) -> str:
    lines = [f"{'part':<12} {'status':<8} {'time':>7}  result"]
    for name, r in results.items():
        numbers = r.get("numbers", {})
        key = next((k for k in numbers if "adapted" in k.lower()), None)
        detail = f"{key}: {_value(numbers[key])}" if key else r.get("message", "")
        lines.append(f"{name:<12} {r['status']:<8} {r.get('seconds', 0):>6.0f}s  {detail}")
    return "\n".join(lines)


def write_report(out: Path, results: dict[str, dict], quick: bool) -> Path:
    """report.md (findings in words, numbers, checks, figures per part) and report.json; returns report.md's path.
    A part's time counts every run of it (a resumed demo included)."""
    parts = [
        "# scisft demo report",
        "",
        f"Mode: {'quick (CI): smaller runs, numbers worse than the full demo' if quick else 'full'}.",
        "",
        "```",
        summary_table(results),
        "```",
        "",
    ]
    for name, r in results.items():
        parts += [f"## {TITLES[name]}", "", f"Status: **{r['status']}** ({r.get('seconds', 0):.0f} s)", ""]
        if r.get("message"):
            parts += [r["message"], ""]
        for finding in r.get("findings", []):
            parts += [finding, ""]
        if r.get("numbers"):
            parts += ["| quantity | value |", "|---|---|"]
            parts += [f"| {k} | {_value(v)} |" for k, v in r["numbers"].items()]
            parts.append("")
        if r.get("checks"):
            parts += ["What must hold for this part to count as working:", ""]
            parts += [f"- [{'x' if ok else ' '}] {check}" for check, ok in r["checks"].items()]
            parts.append("")
        parts += [f"![{fig}]({fig})" for fig in r.get("figures", [])]
        parts.append("")
    write_text(out / "report.md", "\n".join(parts))
    write_json(out / "report.json", {"quick": quick, "parts": results})
    return out / "report.md"
