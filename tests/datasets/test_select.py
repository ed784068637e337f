"""`scisft data select`: split a tidy table by a condition; bad conditions are clear errors and write nothing."""

import pandas as pd

from scisft.cli import main


def test_select_splits_a_table(tmp_path, capsys):
    pd.DataFrame({"species": ["human", "mouse", "mouse"], "p_affinity": [5.0, 6.0, 7.0]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    args = ["data", "select", str(tmp_path / "t.csv"), "--out", str(tmp_path / "m.csv")]
    assert main([*args, "--where", "species == 'mouse'", "--rest", str(tmp_path / "h.csv")]) == 0
    assert pd.read_csv(tmp_path / "m.csv").p_affinity.tolist() == [6.0, 7.0]
    assert pd.read_csv(tmp_path / "h.csv").species.tolist() == ["human"]
    assert "2 rows matched" in capsys.readouterr().out
    (tmp_path / "m.csv").unlink()
    assert main([*args, "--where", "speces == 'mouse'"]) == 2
    err = capsys.readouterr().err
    assert "t.csv" in err and "species, p_affinity" in err
    assert main([*args, "--where", "species == 'rat'"]) == 2
    assert "no row matches" in capsys.readouterr().err
    assert not (tmp_path / "m.csv").exists()
