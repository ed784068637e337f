"""Sequences, molecules, affinity tables, orthologs and metrics: real slices and bad inputs."""

import lzma

import numpy as np
import pandas as pd
import pytest

from scisft.bio.metrics import affinity_metrics, concordance_index
from scisft.bio.molecules import ATOM_FEATURES, FINGERPRINT_BITS, fingerprint, mol_graph, standardise
from scisft.bio.orthologs import add_identity, from_gene_table, from_gtopdb, identity, reciprocal_best_hits
from scisft.bio.sequences import CleaningReport, clean_sequence, read_fasta, record_id
from scisft.bio.tables import aggregate, from_deepdta, from_drugcentral, validate
from scisft.bio.tables import from_gtopdb as table_from_gtopdb
from scisft.errors import DataError
from tests.helpers import shared_data


def test_sequence_cleaning_rule_is_applied_and_counted():
    report = CleaningReport()
    assert clean_sequence("mk-t.uOBzJx*", "r1", report) == "MKTCKXXXX"
    assert report.changes["gap characters removed"] == 2 and report.changes["U read as C"] == 1
    assert report.changes["records upper-cased"] == 1 and report.changes["terminal stops removed"] == 1
    with pytest.raises(DataError, match=r"record r2, field 'sequence': character '1' at position 3"):
        clean_sequence("MK1T", "r2")
    with pytest.raises(DataError, match="empty sequence"):
        clean_sequence("--", "r3")


def test_record_ids():
    assert record_id("sp|P08908|5HT1A_HUMAN") == "P08908"
    assert record_id("12|Q9Y6L6|Solute carrier") == "Q9Y6L6"
    assert record_id("my_protein") == "my_protein"


def test_fasta_real_slice_and_bad_files(tmp_path):
    with lzma.open(shared_data("dti", "sequences", "CD_prot_seq.fas.xz"), "rt") as handle:
        text = "".join(line for _, line in zip(range(400), handle))
    (tmp_path / "s.fasta").write_text(text)
    sequences, _ = read_fasta(tmp_path / "s.fasta")
    assert "D5HSX5" in sequences and all(set(s) <= set("ACDEFGHIKLMNPQRSTVWYX") for s in sequences.values())
    (tmp_path / "bad.fasta").write_text(">a\nMKT\n>b\nMK9\n")
    with pytest.raises(DataError, match=r"bad.fasta, record 2 \(b\)"):
        read_fasta(tmp_path / "bad.fasta")
    (tmp_path / "none.fasta").write_text("just text\n")
    with pytest.raises(DataError, match="none.fasta: not a readable FASTA file.*'>' header"):
        read_fasta(tmp_path / "none.fasta")
    (tmp_path / "empty.fasta").write_text("")
    with pytest.raises(DataError, match="no FASTA records"):
        read_fasta(tmp_path / "empty.fasta")


def test_smiles_standardisation_and_features():
    assert standardise("CC(=O)[O-].[Na+]") == standardise("CC(=O)O")
    assert standardise("OCC") == standardise("C(O)C")
    for bad in ("", "   ", "C1CC", "not a smiles"):
        with pytest.raises(DataError, match="SMILES"):
            standardise(bad)
    graph = mol_graph(standardise("c1ccccc1C(=O)N"))
    assert graph.x.shape == (9, ATOM_FEATURES) and graph.edge_index.shape[1] == 2 * 9
    assert fingerprint("CCO").shape == (FINGERPRINT_BITS,) and float(fingerprint("CCO").sum()) > 0


ROWS = {
    "smiles": ["CCO", "CCO", "c1ccccc1"],
    "target_id": ["P1", "P1", "P2"],
    "species": ["Human", "human", "Mouse"],
    "p_affinity": [6.0, 7.0, 8.5],
    "measure": ["pKi", "pKi", "pIC50"],
}


def test_validation_and_replicate_median():
    table, skipped = validate(pd.DataFrame(ROWS))
    assert not skipped and set(table["species"]) == {"human", "mouse"}
    merged = aggregate(table)
    assert len(merged) == 2
    assert merged.loc[merged.target_id == "P1", "p_affinity"].item() == 6.5
    assert merged.loc[merged.target_id == "P1", "replicates"].item() == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"smiles": ["CCO", "", "C"]}, "row 3, field 'smiles'"),
        ({"target_id": ["P1", None, "P2"]}, "row 3, field 'target_id'"),
        ({"p_affinity": [6.0, "high", 8.0]}, "row 3, field 'p_affinity'"),
        ({"p_affinity": [6.0, 7.0, 18.0]}, "outside 0.0..15.0"),
        ({"p_affinity": [50.0, 1000.0, 20.0]}, "look like concentrations.*9 - log10"),
    ],
)
def test_bad_rows_are_errors_or_counted_skips(change, message):
    frame = pd.DataFrame({**ROWS, **change})
    with pytest.raises(DataError, match=message):
        validate(frame)
    if "concentrations" not in message:
        table, skipped = validate(frame, on_error="skip")
        assert len(table) == 2 and sum(skipped.values()) == 1


def test_gtopdb_davis_drugcentral_readers():
    table, skipped = table_from_gtopdb(shared_data("dti", "gtopdb_2020_5"))
    per_species = table.groupby("species").size().to_dict()
    assert per_species["human"] > 9000 and 400 < per_species["mouse"] < 800
    assert skipped["ligand without SMILES"] > 0 and table["p_affinity"].between(0, 15).all()
    davis, proteins, train, test = from_deepdta(shared_data("dti", "davis_kiba"), "davis")
    assert len(davis) == 30056 and len(proteins) == 442 and len(test) == 5010 and len(train) + len(test) == 30056
    assert davis["p_affinity"].min() == pytest.approx(5.0)  # Kd = 10 uM, DAVIS's ceiling
    drugcentral = from_drugcentral(shared_data("dti", "drugcentral_2018", "drug.target.interaction.tsv.gz"))
    assert drugcentral["name_only"].all() and "smiles" not in drugcentral


def test_orthologs_from_gtopdb_genes_and_reciprocal_best_hits():
    folder = shared_data("dti", "gtopdb_2020_5")
    pairs = from_gtopdb(folder)
    assert ("P08908", "Q64264") in set(map(tuple, pairs.values))  # 5-HT1A
    genes = from_gene_table(shared_data("dti", "orthologs_human_mouse", "biomart_human_to_mouse.csv.xz"), folder)
    assert len(set(map(tuple, genes.values)) & set(map(tuple, pairs.values))) > 0.9 * len(genes)
    sequences, _ = read_fasta(shared_data("dti", "sequences", "CD_prot_seq.fas.xz"))
    known = pairs[pairs.human_id.isin(sequences) & pairs.mouse_id.isin(sequences)].iloc[:25]
    human = {h: sequences[h] for h in known.human_id}
    mouse = {m: sequences[m] for m in known.mouse_id}
    found = reciprocal_best_hits(human, mouse)
    assert set(map(tuple, found[["human_id", "mouse_id"]].values)) == set(map(tuple, known.values))
    assert found["identity"].between(40, 100).all()
    with_identity = add_identity(known, sequences, sequences)
    assert with_identity["identity"].notna().all()
    assert identity("MKTAYIAK", "MKTAYIAK") == 100.0


def test_concordance_index_matches_brute_force():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=60).round(1), rng.normal(size=60).round(1)
    num = den = 0.0
    for i in range(60):
        for j in range(60):
            if y[i] > y[j]:
                den += 1
                num += 1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0
    assert concordance_index(y, p) == pytest.approx(num / den)
    assert concordance_index(y, y) == 1.0 and concordance_index(y, -y) == 0.0
    metrics = affinity_metrics(y, y + 0.1)
    assert metrics["rmse"] == pytest.approx(0.1) and metrics["pearson"] == pytest.approx(1.0)
