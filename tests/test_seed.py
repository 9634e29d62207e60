import polars as pl
import pytest

from srlm.core.params import SeedParams
from srlm.core.schemas import validate
from srlm.loop.judge_prompt import parse_score, render_judge_prompt
from srlm.sources.eft_targets import target_scores
from srlm.sources.readers import read_prompts, read_replies
from srlm.sources.seed_sets import (
    build_eft,
    build_ift,
    build_seed_sets,
    decontaminate,
    sample_groups,
)
from tests.helpers import ROOT, repo_file

EMBEDDED = ROOT / "srlm" / "seed_data"


def replies(rows):
    base = {"prompt": "P", "response": "R", "rank": None, "quality": None, "source": "s"}
    return pl.DataFrame(
        [{**base, **r} for r in rows],
        schema={
            "group_id": pl.Utf8,
            "prompt": pl.Utf8,
            "response": pl.Utf8,
            "rank": pl.Int64,
            "quality": pl.Float64,
            "source": pl.Utf8,
        },
    )


def test_target_scores_from_quality_labels():
    frame = replies(
        [
            {"group_id": "g", "rank": 0, "quality": 0.92},
            {"group_id": "g", "rank": 1, "quality": 0.55},
            {"group_id": "g", "rank": 2, "quality": 0.05},
        ]
    )
    assert target_scores(frame).to_list() == [5, 3, 0]


def test_target_scores_spread_ranks_without_quality():
    frame = replies(
        [
            {"group_id": "two", "rank": 0},
            {"group_id": "two", "rank": 1},
            {"group_id": "four", "rank": 0},
            {"group_id": "four", "rank": 1},
            {"group_id": "four", "rank": 2},
            {"group_id": "four", "rank": 3},
            # one reply lacks a quality label: the whole group falls back to ranks
            {"group_id": "mixed", "rank": 0, "quality": 0.9},
            {"group_id": "mixed", "rank": 1},
        ]
    )
    assert target_scores(frame).to_list() == [5, 1, 5, 4, 2, 1, 5, 1]


def test_ift_takes_the_best_reply_per_prompt():
    frame = replies(
        [
            {"group_id": "a", "prompt": "Qa", "response": "second", "rank": 1},
            {"group_id": "a", "prompt": "Qa", "response": "best", "rank": 0},
            {"group_id": "b", "prompt": "Qb", "response": "low", "quality": 0.2},
            {"group_id": "b", "prompt": "Qb", "response": "high", "quality": 0.8},
        ]
    )
    ift = build_ift(frame, size=10, seed=0)
    assert dict(ift.select("prompt", "response").iter_rows()) == {"Qa": "best", "Qb": "high"}
    assert ift["example_id"].n_unique() == 2


def test_eft_examples_render_the_judge_prompt_and_parseable_targets():
    train, _ = read_replies(str(EMBEDDED / "train.trees.jsonl"))
    eft = build_eft(train, size=40, seed=0)
    assert 30 <= eft.height <= 40
    assert eft.group_by("group_id").len()["len"].min() >= 2  # whole groups
    row = eft.row(0, named=True)
    assert row["judge_input"] == render_judge_prompt(row["prompt"], row["response"])
    assert [parse_score(t) for t in eft["judge_target"]] == eft["target_score"].cast(
        pl.Float64
    ).to_list()
    # the best reply of a group never gets a lower target than a worse one
    check = eft.sort("group_id", "human_rank").group_by("group_id").agg("target_score")
    for (scores,) in check.select("target_score").iter_rows():
        assert scores == sorted(scores, reverse=True)


def test_sampling_is_seeded_and_keeps_groups_whole():
    train, _ = read_replies(str(EMBEDDED / "train.trees.jsonl"))
    train = train.rename({"rank": "human_rank"})
    first = sample_groups(train, 30, seed=1)
    assert first.equals(sample_groups(train, 30, seed=1))
    assert not first.equals(sample_groups(train, 30, seed=2))
    assert first.height <= 30
    sizes = dict(train.group_by("group_id").len().iter_rows())
    for group, n in first.group_by("group_id").len().iter_rows():
        assert n == sizes[group]


def test_decontamination_against_real_evaluation_sets():
    validation = str(repo_file("oasst", "oasst1_en_validation.messages.jsonl"))
    eval_prompts = read_prompts(validation)
    trees, _ = read_replies(str(repo_file("oasst", "oasst_2023-03_en_100.trees.jsonl")))
    _, dropped_trees = decontaminate(trees, eval_prompts)
    quality, _ = read_replies(str(repo_file("oasst", "oasst2_en_firstturn_quality.jsonl")))
    kept, dropped_quality = decontaminate(quality, eval_prompts)
    # shared/data/README.md: 6 trees and 16 quality prompts occur in the validation split
    assert dropped_trees == 6
    assert dropped_quality == 16
    assert kept.height < quality.height


def test_build_seed_sets_reports_counts():
    train, _ = read_replies(str(repo_file("oasst", "oasst_2023-03_en_100.trees.jsonl")))
    held_out, _ = read_replies(str(repo_file("oasst", "oasst1_en_validation.messages.jsonl")))
    cfg = SeedParams(ift_size=30, eft_size=60, eft_eval_size=531)
    ift, eft, eft_eval, stats = build_seed_sets(train, held_out, [], cfg)
    assert stats["decontaminated_prompts"] == 6
    assert ift.height == 30 and eft.height <= 60
    assert set(eft["prompt"]).isdisjoint(set(eft_eval["prompt"]))
    assert set(ift["prompt"]).isdisjoint(set(eft_eval["prompt"]))
    assert sum(stats["eft_target_histogram"].values()) == eft.height
    assert stats["eft_eval_groups"] >= 150


@pytest.mark.parametrize("size", [0, 1])
def test_tiny_sizes_give_empty_but_valid_sets(size):
    train, _ = read_replies(str(EMBEDDED / "train.trees.jsonl"))
    assert build_eft(train, size=size, seed=0).height == 0


def test_min_target_spread_keeps_contrasting_groups_for_training_only():
    frame = replies(
        [
            {"group_id": "close", "response": "a", "rank": 0, "quality": 0.8},
            {"group_id": "close", "response": "b", "rank": 1, "quality": 0.7},  # 4 vs 4
            {"group_id": "wide", "response": "c", "rank": 0, "quality": 0.9},
            {"group_id": "wide", "response": "d", "rank": 1, "quality": 0.1},  # 5 vs 0
        ]
    )
    assert set(build_eft(frame, 10, 0)["group_id"]) == {"close", "wide"}
    assert set(build_eft(frame, 10, 0, min_target_spread=2)["group_id"]) == {"wide"}
    ift, eft, eft_eval, _ = build_seed_sets(
        frame.with_columns(group_id=pl.lit("t-") + pl.col("group_id"), prompt=pl.lit("Q1?!")),
        frame.with_columns(prompt=pl.lit("Q2?!")),
        [],
        SeedParams(
            ift_size=5, eft_size=10, eft_eval_size=10, eft_min_target_spread=2, min_prompt_chars=1
        ),
    )
    assert eft.height == 2 and eft_eval.height == 4  # evaluation keeps every group


def test_score_only_targets_parse_to_the_same_score():
    frame = replies(
        [
            {"group_id": "g", "response": "a", "rank": 0, "quality": 0.9},
            {"group_id": "g", "response": "b", "rank": 1, "quality": 0.3},
        ]
    )
    justified = build_eft(frame, 10, 0)
    short = build_eft(frame, 10, 0, target_style="score_only")
    assert short["judge_target"].to_list() == ["Score: 5", "Score: 2"]
    assert [parse_score(t) for t in justified["judge_target"]] == [5.0, 2.0]
    assert short["judge_input"].to_list() == justified["judge_input"].to_list()


def test_every_held_out_reply_of_oasst1_validation_gives_one_example():
    """All 541 ranked replies, as the judge learning-curve study uses them: one group has the
    same text twice (ranked 0 and 2); its best-ranked copy is kept, ids stay unique."""
    held_out, _ = read_replies(str(repo_file("oasst", "oasst1_en_validation.messages.jsonl")))
    eft_eval = build_eft(held_out, 100_000, seed=0)
    validate(eft_eval, "seed_eft")
    assert eft_eval.height == 540 and eft_eval["group_id"].n_unique() == 186
    twice = eft_eval.filter(pl.col("response") == "Jay's brother is John.")
    assert twice["human_rank"].to_list() == [0]
