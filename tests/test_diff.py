import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from srlm.cli import main
from srlm.core.artifacts import write_artifact
from srlm.tools.diff import diff_frames, format_report, is_unchanged
from tests.helpers import pairs_frame


def test_diff_counts_match_a_direct_polars_computation():
    old = pairs_frame(10)
    new = pairs_frame(10, offset=4, margin=2.0).with_columns(
        chosen=pl.when(pl.col("prompt_id") == "p005")
        .then(pl.lit("new answer"))
        .otherwise(pl.col("chosen"))
    )
    report = diff_frames(old.lazy(), new.lazy(), "pairs", limit=1)
    shared = old.join(new, on="prompt_id", suffix="_n")
    assert report["rows"]["added"] == new.join(old, on="prompt_id", how="anti").height == 4
    assert report["rows"]["removed"] == old.join(new, on="prompt_id", how="anti").height == 4
    assert report["rows"]["changed"] == shared.height == 6  # margins changed for all shared
    assert report["pairs"]["chosen_changed_share"] == round(
        (shared["chosen"] != shared["chosen_n"]).mean(), 4
    )
    assert report["pairs"]["margin_before"]["mean"] == 1.0
    assert report["pairs"]["margin_after"]["mean"] == 2.0
    assert report["scores"]["after"]["rejected_score"]["histogram"]["2"] == 10
    assert report["text"]["after"]["chosen"]["mean"] == round(
        new["chosen"].str.len_chars().mean(), 4
    )
    assert len(report["rows"]["examples"]["added"]) == 1
    text = format_report(report, "a", "b")
    assert "+4 added, -4 removed, ~6 changed" in text


def test_diff_with_itself_reports_no_change():
    frame = pairs_frame(5)
    report = diff_frames(frame.lazy(), frame.lazy(), "pairs")
    assert is_unchanged(report)
    assert report["rows"] == {
        "before": 5,
        "after": 5,
        "added": 0,
        "removed": 0,
        "changed": 0,
        "matched": 5,
    }
    assert "no change" in format_report(report, "a", "a")


def test_schema_differences_are_reported_not_raised():
    old = pairs_frame(3)
    new = (
        pairs_frame(3)
        .drop("margin")
        .with_columns(pl.col("chosen_score").cast(pl.Float32), extra=pl.lit("x"))
    )
    report = diff_frames(old.lazy(), new.lazy(), "pairs")
    assert report["schema"] == {
        "added": ["extra"],
        "removed": ["margin"],
        "type_changed": {"chosen_score": ["Float64", "Float32"]},
    }
    assert not is_unchanged(report)
    assert "pairs" not in report  # no margin column on both sides: no margin statistics


def test_cli_diff_two_paths_json_and_kind_mismatch(tmp_path, capsys):
    a = write_artifact(pairs_frame(4), tmp_path / "a", "pairs", "fa")
    b = write_artifact(pairs_frame(4, offset=2), tmp_path / "b", "pairs", "fb")
    assert main(["diff", str(a), str(b), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"]["added"] == 2
    ift = pl.DataFrame({"example_id": ["x"], "prompt": ["p"], "response": ["r"], "source": ["s"]})
    c = write_artifact(ift, tmp_path / "c", "seed_ift", "fc")
    assert main(["diff", str(a), str(c)]) == 1
    assert "is a 'pairs' artifact" in capsys.readouterr().err
    assert main(["diff", str(tmp_path / "missing"), str(a)]) == 1
    assert "no such artifact" in capsys.readouterr().err


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.integration
def test_cli_diff_between_git_revisions(tmp_path, monkeypatch, capsys):
    dvc = str(Path(sys.executable).parent / "dvc")
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    subprocess.run([dvc, "init", "-q"], cwd=tmp_path, check=True)
    for version, frame in enumerate([pairs_frame(6), pairs_frame(6, offset=3)]):
        write_artifact(frame, tmp_path / "data" / "pairs", "pairs", f"v{version}")
        subprocess.run([dvc, "add", "-q", "data/pairs"], cwd=tmp_path, check=True)
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-qm", f"v{version}")
    before = (tmp_path / "data" / "pairs" / "_manifest.json").read_text()
    monkeypatch.chdir(tmp_path)
    assert main(["diff", "data/pairs", "--rev", "HEAD~1", "--rev", "HEAD", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"]["added"] == 3 and report["rows"]["removed"] == 3
    assert (tmp_path / "data" / "pairs" / "_manifest.json").read_text() == before
    assert main(["diff", "data/pairs", "--rev", "HEAD~1"]) == 0  # against the workspace
    assert "+3 added" in capsys.readouterr().out
    # two spellings of revisions land in separate folders: HEAD~1 vs HEAD is still a change
    assert main(["diff", "data/pairs", "--rev", "HEAD^", "--rev", "HEAD", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"]["added"] == 3
    assert main(["diff", "data/pairs", "--rev", "no-such-rev", "--rev", "HEAD"]) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith("error: srlm diff: unknown revision 'no-such-rev'")
    )


def test_diff_needs_two_things_to_compare(capsys):
    assert main(["diff", "only-one"]) == 1
    assert "give two artifact paths" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["diff", "--help"], ["show", "--help"], ["validate", "--help"]])
def test_every_command_has_help_with_an_example(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert "example" in capsys.readouterr().out


def test_every_artifact_kind_has_row_keys():
    from srlm.core.schemas import SCHEMAS
    from srlm.tools.diff import KEYS

    assert set(KEYS) == set(SCHEMAS)
    for name, keys in KEYS.items():
        assert set(keys) <= set(SCHEMAS[name].to_schema().columns), name


def test_diff_checks_the_row_count_of_the_manifest(tmp_path, capsys):
    """A deleted shard must not pass for half the artifact (issue 24)."""
    from srlm.core.artifacts import ArtifactError, scan_artifact

    a = write_artifact(pairs_frame(4), tmp_path / "a", "pairs", "fa", rows_per_shard=2)
    b = write_artifact(pairs_frame(4), tmp_path / "b", "pairs", "fb", rows_per_shard=2)
    (b / "part-00001.parquet").unlink()
    with pytest.raises(ArtifactError, match=rf"^{b}: 2 rows on disk, manifest says 4"):
        scan_artifact(b)
    assert scan_artifact(a)[0].collect().height == 4
    assert main(["diff", str(a), str(b)]) == 1
    assert f"{b}: 2 rows on disk, manifest says 4" in capsys.readouterr().err
