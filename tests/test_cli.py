import json

import polars as pl
import pytest

from srlm.cli import main
from srlm.core.artifacts import write_artifact
from srlm.core.schemas import SCHEMA_VERSION


@pytest.fixture
def artifact(tmp_path):
    frame = pl.DataFrame(
        {
            "example_id": ["a", "b"],
            "prompt": ["p1", "p2"],
            "response": ["r1", "r2"],
            "source": ["s", "s"],
        }
    )
    return write_artifact(frame, tmp_path / "ift", "seed_ift", "fp123")


def test_show_prints_manifest_and_rows(artifact, capsys):
    assert main(["show", str(artifact), "--rows", "1"]) == 0
    out = capsys.readouterr().out
    assert f"seed_ift v{SCHEMA_VERSION}, 2 rows, fingerprint fp123" in out
    assert "example_id: String" in out and "r1" in out and "r2" not in out


def test_show_never_prints_terminal_control_sequences(tmp_path, capsys):
    """A generated answer that retitles (OSC), clears (CSI) or rewrites (CR) the terminal is
    shown escaped, as text."""
    hostile = "Sure\x1b]0;pwned\x07 \x1b[2J\rdone\x9bok"
    write_artifact(
        pl.DataFrame(
            {"example_id": ["e1"], "prompt": ["p\x1b[31m"], "response": [hostile], "source": ["s"]}
        ),
        tmp_path / "ift",
        "seed_ift",
        "fp\x1b[0m",
    )
    assert main(["show", str(tmp_path / "ift"), "--width", "200"]) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\r\x9b")
    assert "Sure\\x1b]0;pwned\\x07 \\x1b[2J\\rdone" not in out  # \r is \x0d here
    assert "Sure\\x1b]0;pwned\\x07 \\x1b[2J\\x0ddone\\x9bok" in out
    assert "p\\x1b[31m" in out and "fingerprint fp\\x1b[0m" in out


def test_validate_reports_violations(artifact, capsys):
    assert main(["validate", str(artifact)]) == 0
    pl.DataFrame(
        {
            "example_id": ["a", "a"],
            "prompt": ["p", "p"],
            "response": ["r", ""],
            "source": ["s", "s"],
        }
    ).write_parquet(artifact / "part-00000.parquet")
    assert main(["validate", str(artifact)]) == 1
    err = capsys.readouterr().err
    assert "column 'example_id' fails field_uniqueness" in err
    assert "column 'response'" in err and "rows [1]" in err


def test_missing_path_is_one_line(tmp_path, capsys):
    assert main(["show", str(tmp_path / "none")]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"error: srlm show: {tmp_path / 'none'}: no such artifact (build it with `dvc repro`)"
    )


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "examples:" in capsys.readouterr().out


def test_report_reads_metrics_and_never_overwrites(tmp_path, capsys):
    metrics = tmp_path / "metrics"
    (metrics / "m1").mkdir(parents=True)
    judge = {
        mode: {
            "pairwise_accuracy": 0.625,
            "tie_rate": 0.125,
            "parse_rate": 1.0,
            "spearman": 0.25,
            "n_groups": 3,
            "n_pairs": 8,
        }
        for mode in ("sampled", "expected")
    }
    judge["sampled"]["pairwise_accuracy_ci95"] = [0.5, 0.75]
    (metrics / "m1" / "judge.json").write_text(json.dumps(judge))
    (metrics / "m1" / "answers.json").write_text(json.dumps({"mean_chars": 812.4}))
    out = tmp_path / "report.md"
    assert (
        main(
            [
                "report",
                "--metrics-dir",
                str(metrics),
                "--model",
                "m1",
                "--model",
                "m2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| m1 | sampled | 100.0 | 62.5 [50.0, 75.0] | 12.5 | 0.250 | – |" in printed
    assert "| m1 | expected | 100.0 | 62.5 | 12.5 | 0.250 | – |" in printed
    assert "| m1 | – | – | – | – | – | – | – | – | 812 |" in printed
    assert "| m2 | – |" in printed  # a model without metrics yet: empty cells, no error
    assert out.read_text() == printed
    assert main(["report", "--metrics-dir", str(metrics), "--out", str(out)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["report", "--metrics-dir", str(tmp_path / "none")]) == 1
    assert "no metrics folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "x", "--width", "-5"],
        ["show", "x", "--rows", "-1"],
        ["diff", "a", "b", "--limit", "many"],
    ],
)
def test_cli_counts_must_be_counts(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --" in err and ("must be >=" in err or "expected an integer" in err)


@pytest.mark.parametrize(
    "stem, data, message",
    [
        ("judge", {}, "no key 'sampled'"),
        ("judge", [], "expected a JSON object of metrics, got list"),
        ("judge", {"sampled": {}, "expected": 0.5}, "key 'expected' must be an object"),
        ("pairs", {"pairs": "many", "yield": 0.5}, "key 'pairs' must be a number or null"),
        ("ifeval", {"prompt_strict": 0.5}, "no key 'instruction_strict'"),
    ],
)
def test_report_inputs_of_the_wrong_shape_name_the_file_and_key(
    tmp_path, capsys, stem, data, message
):
    """An empty or ill-shaped metrics file is one line, never an empty row (issue 24)."""
    path = tmp_path / "metrics" / "m1" / f"{stem}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    assert main(["report", "--metrics-dir", str(tmp_path / "metrics"), "--model", "m1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: srlm report: {path}: {message}") and err.count("\n") == 1
