import polars as pl
import pytest

from srlm.cli import main
from srlm.io import write_artifact


@pytest.fixture
def artifact(tmp_path):
    frame = pl.DataFrame({"example_id": ["a", "b"], "prompt": ["p1", "p2"],
                          "response": ["r1", "r2"], "source": ["s", "s"]})
    return write_artifact(frame, tmp_path / "ift", "seed_ift", "fp123")


def test_show_prints_manifest_and_rows(artifact, capsys):
    assert main(["show", str(artifact), "--rows", "1"]) == 0
    out = capsys.readouterr().out
    assert "seed_ift v1, 2 rows, fingerprint fp123" in out
    assert "example_id: String" in out and "r1" in out and "r2" not in out


def test_validate_reports_violations(artifact, capsys):
    assert main(["validate", str(artifact)]) == 0
    pl.DataFrame({"example_id": ["a", "a"], "prompt": ["p", "p"], "response": ["r", ""],
                  "source": ["s", "s"]}).write_parquet(artifact / "part-00000.parquet")
    assert main(["validate", str(artifact)]) == 1
    err = capsys.readouterr().err
    assert "column 'example_id' fails field_uniqueness" in err
    assert "column 'response'" in err and "rows [1]" in err


def test_missing_path_is_one_line(tmp_path, capsys):
    assert main(["show", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err.strip() == f"srlm show: {tmp_path / 'none'}: no such artifact (build it with `dvc repro`)"


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "examples:" in capsys.readouterr().out
