import json

import polars as pl
import pytest

from srlm.core.artifacts import (
    ArtifactError,
    atomic_directory,
    read_artifact,
    read_manifest,
    write_artifact,
)
from srlm.core.fingerprints import fingerprint
from srlm.core.schemas import SCHEMAS, ArtifactSchemaError, validate
from srlm.runtime.shards import ShardWriter
from tests.helpers import eft_frame


def judgments_frame():
    return pl.DataFrame(
        {
            "prompt_id": ["p1", "p1", "p1"],
            "candidate_id": ["c1", "c1", "c2"],
            "sample": [0, 1, 0],
            "judge_text": ["Score: 4", "garbled", "Score: 2"],
            "score": [4.0, None, 2.0],
            "expected_score": [3.8, None, 2.1],
            "score_probs": [[0.0, 0.0, 0.0, 0.2, 0.8, 0.0], None, [0.0, 0.1, 0.8, 0.1, 0.0, 0.0]],
        }
    )


def test_every_artifact_has_a_schema():
    assert {
        "seed_ift",
        "seed_eft",
        "prompts",
        "dropped_prompts",
        "candidates",
        "judgments",
        "candidate_scores",
        "pairs",
        "judge_outputs",
        "eval_prompts",
        "answers",
        "verdicts",
    } <= set(SCHEMAS)


def test_valid_frames_pass():
    validate(eft_frame(), "seed_eft")
    validate(judgments_frame(), "judgments")  # null score = unparsed is allowed
    validate(
        pl.DataFrame(
            {
                "prompt_id": ["p"],
                "prompt": ["x"],
                "iteration": ["m2"],
                "generator": ["m1"],
                "fewshot_ids": [["a", "b"]],
            }
        ),
        "prompts",
    )


def dropped_frame(**overrides):
    """A valid `dropped_prompts` frame of 3 rows, columns replaced by `overrides`."""
    data = {
        "request_id": ["m2-0", "m2-1", "m2-2"],
        "text": ["Why?", "", "Score: 4"],  # a cleaned generation may be empty
        "reason": ["too_short", "empty", "judge_format"],
        "fewshot_ids": [["s1", "s2"], ["s3"], []],
        "iteration": ["m2"] * 3,
    }
    return pl.DataFrame({**data, **overrides})


def test_dropped_prompts_schema():
    validate(dropped_frame(), "dropped_prompts")
    with pytest.raises(ArtifactSchemaError, match=r"column 'reason' fails isin.* rows \[1\]"):
        validate(dropped_frame(reason=["too_short", "boring", "empty"]), "dropped_prompts")
    with pytest.raises(ArtifactSchemaError, match="column 'request_id' fails field_uniqueness"):
        validate(dropped_frame(request_id=["m2-0", "m2-0", "m2-2"]), "dropped_prompts")
    with pytest.raises(ArtifactSchemaError, match="column 'text' fails not_nullable"):
        validate(dropped_frame(text=["Why?", None, "x"]), "dropped_prompts")


def test_unknown_schema_is_named():
    with pytest.raises(ArtifactSchemaError, match="data/x: unknown schema 'nope' .known: .*pairs"):
        validate(eft_frame(), "nope", where="data/x")


def test_missing_column_is_named():
    with pytest.raises(ArtifactSchemaError, match="missing column 'target_score'"):
        validate(eft_frame().drop("target_score"), "seed_eft", where="data/seed/eft")


def test_wrong_type_is_named():
    frame = eft_frame().with_columns(pl.col("human_rank").cast(pl.Utf8))
    with pytest.raises(ArtifactSchemaError, match="column 'human_rank' has type String"):
        validate(frame, "seed_eft")


def test_null_where_not_allowed_names_column_and_rows():
    frame = eft_frame(response=["a", None, "c"])
    with pytest.raises(
        ArtifactSchemaError, match=r"column 'response' fails not_nullable at rows \[1\]"
    ):
        validate(frame, "seed_eft")


def test_out_of_range_score_names_column_and_rows():
    frame = judgments_frame().with_columns(score=pl.Series([4.0, 7.0, -1.0]))
    with pytest.raises(ArtifactSchemaError) as err:
        validate(frame, "judgments", where="data/m2/judgments")
    message = str(err.value)
    assert message.startswith("data/m2/judgments: schema judgments failed")
    assert "column 'score'" in message and "rows [1]" in message and "rows [2]" in message
    assert "\n" not in message


def test_extra_column_is_rejected():
    with pytest.raises(ArtifactSchemaError, match="unexpected column 'extra'"):
        validate(eft_frame().with_columns(extra=pl.lit(1)), "seed_eft")


def test_round_trip_and_manifest(tmp_path):
    frame = eft_frame()
    out = write_artifact(frame, tmp_path / "eft", "seed_eft", fingerprint({"a": 1}))
    back = read_artifact(out, "seed_eft")
    assert back.equals(frame)
    manifest = read_manifest(out)
    assert manifest["rows"] == 3 and manifest["schema"] == "seed_eft"
    assert manifest["fingerprint"] == fingerprint({"a": 1})
    assert {"srlm", "polars", "pyarrow"} <= set(manifest["versions"])
    assert manifest["columns"]["human_rank"] == "Int64"


def test_many_shards(tmp_path):
    frame = eft_frame()
    out = write_artifact(frame, tmp_path / "eft", "seed_eft", "fp", rows_per_shard=1)
    assert len(list(out.glob("part-*.parquet"))) == 3
    assert read_artifact(out).equals(frame)


def test_failed_write_keeps_the_existing_artifact(tmp_path):
    target = tmp_path / "eft"
    write_artifact(eft_frame(), target, "seed_eft", "old")
    with pytest.raises(ArtifactSchemaError):
        write_artifact(eft_frame().drop("prompt"), target, "seed_eft", "new")
    assert read_manifest(target)["fingerprint"] == "old"
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "half-written").write_text("x")
        raise RuntimeError("crash mid-write")
    assert read_artifact(target).height == 3
    assert [p.name for p in tmp_path.iterdir()] == ["eft"]  # no temporary or lock left


def test_read_errors_name_the_path(tmp_path):
    with pytest.raises(ArtifactError, match="no such artifact"):
        read_artifact(tmp_path / "missing")
    write_artifact(eft_frame(), tmp_path / "eft", "seed_eft", "fp")
    with pytest.raises(ArtifactError, match="is a 'seed_eft' artifact, expected 'pairs'"):
        read_artifact(tmp_path / "eft", "pairs")
    (tmp_path / "half").mkdir()
    with pytest.raises(ArtifactError, match="not a finished artifact"):
        read_artifact(tmp_path / "half")


def test_tampered_artifact_fails_validation_on_read(tmp_path):
    out = write_artifact(eft_frame(), tmp_path / "eft", "seed_eft", "fp")
    eft_frame(target_score=[5, 9, 1]).write_parquet(out / "part-00000.parquet")
    with pytest.raises(ArtifactSchemaError, match="target_score"):
        read_artifact(out)


def test_shard_writer_resumes_and_discards_stale_shards(tmp_path):
    target = tmp_path / "judgments"
    frame = judgments_frame()
    writer = ShardWriter(target, "judgments", "fp1")
    writer.write(0, frame.head(2))
    writer.close()  # a crash here (a dead process holds no lock): shard 1 never written
    assert not target.exists() and (tmp_path / "judgments.partial" / "part-00000.parquet").exists()
    resumed = ShardWriter(target, "judgments", "fp1")
    assert resumed.done(0) and not resumed.done(1)
    resumed.write(1, frame.tail(1))
    assert resumed.finish(2).equals(frame)
    assert read_artifact(target).equals(frame)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judgments"]  # nothing left beside
    # a params change: the same directory under a new fingerprint starts empty
    changed = ShardWriter(target, "judgments", "fp2")
    assert not changed.done(0)
    with pytest.raises(ArtifactError, match="never written"):
        changed.finish(1)
    changed.close()
    assert read_artifact(target).equals(frame)  # the finished artifact is still the old one


def test_shard_writer_validates_each_shard(tmp_path):
    writer = ShardWriter(tmp_path / "j", "judgments", "fp")
    with pytest.raises(ArtifactSchemaError, match="shard 0"):
        writer.write(0, judgments_frame().with_columns(score=pl.lit(6.0)))
    assert not writer.done(0)


def test_fingerprint_depends_on_params_and_inputs(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"a": 1}) + "\n")
    first = fingerprint({"x": 1}, inputs=[data])
    assert first == fingerprint({"x": 1}, inputs=[data])
    assert first != fingerprint({"x": 2}, inputs=[data])
    data.write_text(json.dumps({"a": 2}) + "\n")
    assert first != fingerprint({"x": 1}, inputs=[data])


@pytest.mark.parametrize(
    "probs",
    [
        [0.2, 0.3, 0.5],
        [],
        [0.1] * 7,
        [0.1, None, 0.1, 0.1, 0.1, 0.1],
        [1.5, 0.0, 0.0, 0.0, 0.0, 0.0],
        [float("nan")] * 6,
    ],
)
@pytest.mark.parametrize("schema", ["judgments", "judge_outputs"])
def test_score_probs_are_one_probability_per_score(probs, schema):
    """A list's length is no dtype: 3 probabilities (or 7) for the 6 scores 0..5 must fail."""
    from srlm.core.schemas import SCORE_VALUES
    from srlm.loop.judge_prompt import SCORE_OPTIONS

    assert SCORE_VALUES == len(SCORE_OPTIONS) == 6
    frame = judgments_frame().with_columns(
        score_probs=pl.Series(
            [[0.0, 0.0, 0.0, 0.2, 0.8, 0.0], None, probs], dtype=pl.List(pl.Float64)
        )
    )
    if schema == "judge_outputs":
        frame = frame.select(
            example_id=pl.col("candidate_id"),
            group_id=pl.col("prompt_id"),
            human_rank=pl.lit(0),
            target_score=pl.lit(3),
            sample="sample",
            judge_text="judge_text",
            score="score",
            expected_score="expected_score",
            score_probs="score_probs",
        )
    with pytest.raises(
        ArtifactSchemaError,
        match=r"column 'score_probs' fails 6 probabilities "
        r"within 0\.\.1, one per score at rows \[2\]",
    ):
        validate(frame, schema)
