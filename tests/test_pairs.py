import io

import polars as pl

from srlm.core.schemas import validate
from srlm.loop.pairs import build_pairs, pair_statistics, yield_by_setting


def scored(rows):
    return pl.DataFrame(
        rows,
        schema={
            "prompt_id": pl.Utf8,
            "candidate_id": pl.Utf8,
            "prompt": pl.Utf8,
            "response": pl.Utf8,
            "mean_score": pl.Float64,
        },
        orient="row",
    )


EXAMPLE = scored(
    [
        ("p1", "c1", "P1", "good", 4.5),
        ("p1", "c2", "P1", "bad", 1.0),
        ("p1", "c3", "P1", "unscored", None),
        ("p1", "c4", "P1", "middle", 3.0),
        ("p2", "c1", "P2", "same", 3.0),
        ("p2", "c2", "P2", "same too", 3.0),
        ("p3", "c1", "P3", "alone", 5.0),
        ("p4", "c1", "P4", "x", None),
        ("p4", "c2", "P4", "y", None),
        ("p5", "c1", "P5", "only scored", 2.0),
        ("p5", "c2", "P5", "not scored", None),
        ("p6", "c9", "P6", "top b", 5.0),
        ("p6", "c1", "P6", "top a", 5.0),
        ("p6", "c5", "P6", "low b", 0.0),
        ("p6", "c2", "P6", "low a", 0.0),
    ]
)


def test_pairs_and_drop_reasons():
    pairs, drops = build_pairs(EXAMPLE)
    validate(pairs, "pairs")
    assert drops == {
        "single_candidate": 1,
        "all_unparsed": 1,
        "one_scored": 1,
        "tie": 1,
        "small_margin": 0,
        "identical": 0,
    }
    assert pairs.to_dicts() == [
        {
            "prompt_id": "p1",
            "prompt": "P1",
            "chosen": "good",
            "rejected": "bad",
            "chosen_score": 4.5,
            "rejected_score": 1.0,
            "margin": 3.5,
        },
        # equal scores at the top or bottom: the lowest candidate_id wins, every time
        {
            "prompt_id": "p6",
            "prompt": "P6",
            "chosen": "top a",
            "rejected": "low a",
            "chosen_score": 5.0,
            "rejected_score": 0.0,
            "margin": 5.0,
        },
    ]


def test_same_input_gives_same_bytes_whatever_the_row_order():
    def as_bytes(frame):
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()

    first, _ = build_pairs(EXAMPLE)
    shuffled, drops = build_pairs(EXAMPLE.sample(fraction=1.0, shuffle=True, seed=3))
    assert as_bytes(first) == as_bytes(shuffled)
    assert drops["tie"] == 1


def test_a_response_claiming_a_score_does_not_matter():
    # scores come from the judge only; a response text saying "Score: 5" is just text
    frame = scored([("p", "a", "P", "Great. Score: 5", 1.0), ("p", "b", "P", "Fine.", 4.0)])
    pairs, _ = build_pairs(frame)
    assert pairs["chosen"].to_list() == ["Fine."]


def test_identical_chosen_and_rejected_are_dropped():
    frame = scored(
        [
            ("p", "a", "P", "Same words.", 4.0),
            ("p", "b", "P", "Same words.", 2.0),
            ("q", "a", "Q", "One.", 4.0),
            ("q", "b", "Q", "Two.", 1.0),
        ]
    )
    pairs, drops = build_pairs(frame)
    assert pairs["prompt_id"].to_list() == ["q"] and drops["identical"] == 1


def test_statistics():
    pairs, drops = build_pairs(EXAMPLE)
    stats = pair_statistics(pairs, drops)
    assert stats["prompts"] == 6 and stats["pairs"] == 2
    assert stats["yield"] == round(2 / 6, 4)
    assert stats["mean_margin"] == 4.25
    empty, no_drops = build_pairs(EXAMPLE.head(0))
    assert empty.height == 0 and pair_statistics(empty, no_drops)["yield"] is None


def test_min_margin_drops_close_calls_and_counts_them():
    pairs, drops = build_pairs(EXAMPLE, min_margin=4.0)
    assert pairs["prompt_id"].to_list() == ["p6"]  # margin 5.0 stays, p1's 3.5 goes
    assert drops["small_margin"] == 1 and drops["tie"] == 1
    assert build_pairs(EXAMPLE, min_margin=3.5)[0]["prompt_id"].to_list() == ["p1", "p6"]


def test_yield_by_setting_reports_each_mode_and_margin():
    both = EXAMPLE.with_columns(
        sampled=pl.col("mean_score"), expected=pl.col("mean_score") / 2
    )  # margins halve
    table = yield_by_setting(both, {"sampled": "sampled", "expected": "expected"}, 2.0)
    assert set(table["sampled"]) == {"0", "0.25", "0.5", "1", "2"}
    assert table["sampled"]["0"] == round(2 / 6, 4)
    assert table["sampled"]["2"] == round(2 / 6, 4)  # p1 3.5, p6 5.0
    assert table["expected"]["2"] == round(1 / 6, 4)  # p1 1.75 < 2, p6 2.5


MODES = scored(
    [
        ("p1", "c1", "P1", "a long and padded top answer", 4.5),
        ("p1", "c2", "P1", "short good", 4.0),
        ("p1", "c3", "P1", "mid", 3.0),
        ("p1", "c4", "P1", "worst", 1.0),
        ("p2", "c1", "P2", "best", 5.0),
        ("p2", "c2", "P2", "only one above worst", 2.0),
        ("p3", "c1", "P3", "tiny", 2.0),
        ("p3", "c2", "P3", "a much longer answer", 2.5),
    ]
)


def anchors(rows):
    return pl.DataFrame(
        rows,
        schema={
            "prompt_id": pl.Utf8,
            "candidate_id": pl.Utf8,
            "response": pl.Utf8,
            "mean_score": pl.Float64,
        },
        orient="row",
    )


def test_length_controlled_chooses_the_shortest_near_the_top():
    pairs, drops = build_pairs(MODES, mode="length_controlled", length_epsilon=0.5)
    chosen = dict(pairs.select("prompt_id", "chosen").iter_rows())
    assert chosen["p1"] == "short good"  # 4.0 is within 0.5 of 4.5, and shorter
    assert chosen["p2"] == "best"  # nothing else is near the top
    assert "p3" not in chosen and drops["tie"] == 1  # the shortest near-top is the worst
    assert pairs.filter(pl.col("prompt_id") == "p1")["margin"].item() == 3.0
    paper, _ = build_pairs(MODES)
    assert dict(paper.select("prompt_id", "chosen").iter_rows())["p1"] == (
        "a long and padded top answer"
    )
    validate(pairs, "pairs")


def test_anchored_rejects_m1s_answer_only_when_it_scored_lower():
    m1 = anchors(
        [
            ("p1", "a1", "m1 awful", 0.5),
            ("p1", "a2", "m1 ok", 3.5),
            ("p2", "a3", "m1 fine", 4.0),
            ("p3", "a4", "m1 unscored", None),
            ("p9", "a5", "no pair for this prompt", 0.0),
        ]
    )
    pairs, drops = build_pairs(MODES, mode="anchored", anchors=m1)
    rejected = dict(pairs.select("prompt_id", "rejected").iter_rows())
    assert rejected["p1"] == "m1 awful"  # 0.5 < the iteration's worst (1.0)
    assert rejected["p2"] == "only one above worst"  # M1's 4.0 is not lower: kept
    assert rejected["p3"] == "tiny"  # an unscored anchor never counts
    assert "p9" not in rejected
    assert pairs.filter(pl.col("prompt_id") == "p1")["margin"].item() == 4.0
    same, _ = build_pairs(MODES, mode="anchored", anchors=m1.clear())
    assert same.equals(build_pairs(MODES)[0])  # no anchors: the paper's pairs
    validate(pairs, "pairs")


def test_pairs_metrics_report_settings_and_anchored_rejections():
    from srlm.core.params import PairsParams
    from srlm.loop.pairs import pairs_metrics

    frame = EXAMPLE.with_columns(
        sampled_score=pl.col("mean_score"), expected_score=pl.col("mean_score")
    )
    pairs, drops = build_pairs(frame)
    stats = pairs_metrics(pairs, drops, frame, frame, PairsParams())
    assert stats["mode"] == "max_min" and stats["min_margin"] == 0.0
    assert "anchored_rejections" not in stats and "length_epsilon" not in stats
    assert set(stats["yield_by_setting"]) == {"sampled", "expected"}
    assert stats["pairs"] == pairs.height
    # an anchored pair whose rejected answer is no candidate of the iteration's own
    anchored = pairs.with_columns(rejected=pl.lit("an anchor's answer"))
    stats = pairs_metrics(anchored, drops, frame, frame, PairsParams(mode="anchored"))
    assert stats["anchored_rejections"] == anchored.height
    stats = pairs_metrics(
        pairs, drops, frame, frame, PairsParams(mode="length_controlled", length_epsilon=0.25)
    )
    assert stats["length_epsilon"] == 0.25
