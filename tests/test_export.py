import json

import datasets
import polars as pl
import pytest

from srlm.cli import main
from srlm.core.artifacts import write_artifact
from tests.helpers import pairs_frame


@pytest.fixture
def pairs(tmp_path):
    return write_artifact(pairs_frame(3), tmp_path / "pairs", "pairs", "fp")


def test_hf_export_of_pairs_is_trl_conversational(pairs, tmp_path):
    assert main(["export", str(pairs), "--format", "hf", "--out", str(tmp_path / "hf")]) == 0
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert loaded.num_rows == 3
    row = loaded[0]
    assert row["prompt"] == [{"role": "user", "content": "prompt p000"}]
    assert row["chosen"] == [{"role": "assistant", "content": "chosen answer p000"}]
    assert row["rejected"] == [{"role": "assistant", "content": "bad p000"}]
    assert row["margin"] == 1.0
    from srlm.training.trainers import dpo_records  # what DPO trains on: the same records

    assert dpo_records(pairs_frame(3))[0] == {k: row[k] for k in ("prompt", "chosen", "rejected")}


def test_jsonl_and_parquet_exports(pairs, tmp_path):
    assert (
        main(["export", str(pairs), "--format", "jsonl", "--out", str(tmp_path / "p.jsonl")]) == 0
    )
    first = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert first["chosen"][0]["role"] == "assistant"
    ift = write_artifact(
        pl.DataFrame({"example_id": ["a"], "prompt": ["p"], "response": ["r"], "source": ["s"]}),
        tmp_path / "ift",
        "seed_ift",
        "fp",
    )
    assert main(["export", str(ift), "--out", str(tmp_path / "ift.parquet")]) == 0
    assert pl.read_parquet(tmp_path / "ift.parquet").columns == [
        "example_id",
        "prompt",
        "response",
        "source",
    ]


def test_export_never_overwrites(pairs, tmp_path, capsys):
    target = tmp_path / "exists.jsonl"
    target.write_text("keep me")
    assert main(["export", str(pairs), "--format", "jsonl", "--out", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_export_leaves_a_users_neighbouring_files_alone(pairs, tmp_path):
    mine = {
        "p.jsonl.tmp": "a user's draft",
        "p.parquet.tmp": "another",
        "hf.old": "backup",
        "hf.tmp": "notes",
    }
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    for fmt, out in (("jsonl", "p.jsonl"), ("parquet", "p.parquet"), ("hf", "hf")):
        assert main(["export", str(pairs), "--format", fmt, "--out", str(tmp_path / out)]) == 0
    for name, text in mine.items():
        assert (tmp_path / name).read_text() == text, name
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 3
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left
