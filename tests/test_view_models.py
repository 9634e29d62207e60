"""The data view's model pages: IFEval answers with each instruction's verdict, judge samples
against human ranks, comparisons in both orders; joins on hand-made frames, pages from the
repo's built evaluation, hostile model output shown as text, and only what exists shown."""

import re

import polars as pl
import pytest
from markupsafe import escape

from srlm.core.artifacts import write_artifact
from srlm.core.schemas import artifact_frame
from srlm.tools.view import environment
from srlm.tools.view_model_data import h2h_records, ifeval_records, judge_groups, reference_records
from srlm.tools.view_models import (
    comparison_summary,
    ifeval_summary,
    judge_summary,
    read_model_frames,
    write_model_pages,
)
from tests.helpers import ROOT

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"


def ifeval(n=3, response="An answer."):
    """Prompt 0 follows both instructions, 1 fails one strictly (not loosely), 2 hits the cap."""
    rows = [
        {
            "key": k,
            "prompt": f"Instruction prompt {k}",
            "instruction_ids": ["a:one", "b:two"],
            "response": response,
            "model": "m",
            "n_tokens": 5,
            "finish_reason": "length" if k == 2 else "stop",
            "strict": [True, k != 1],
            "loose": [True, True],
        }
        for k in range(n)
    ]
    return artifact_frame("ifeval_results", rows)


# group g1: ranks 0, 1, 2 sampled 5, 3, 4 (one pair reversed), expected 5, 4, 3 (all agree);
# group g2: ranks 0, 1, one sample of the first unparsed.
REPLIES: list[tuple[str, str, int, list[float | None], float]] = [
    ("g1", "e0", 0, [5.0], 5.0),
    ("g1", "e1", 1, [3.0], 4.0),
    ("g1", "e2", 2, [4.0], 3.0),
]
REPLIES += [("g2", "f0", 0, [None, 2.0], 2.0), ("g2", "f1", 1, [1.0, 1.0], 1.0)]


def judge(judge_text="Good.\nScore: 4"):
    rows = [
        {
            "example_id": example,
            "group_id": group,
            "human_rank": rank,
            "target_score": 5 - rank,
            "sample": i,
            "judge_text": judge_text,
            "score": score,
            "expected_score": expected,
            "score_probs": [0.0, 0.0, 0.0, 0.0, 0.5, 0.5],
        }
        for group, example, rank, scores, expected in REPLIES
        for i, score in enumerate(scores)
    ]
    return artifact_frame("judge_outputs", rows)


def eft_eval(response="Reply {}"):
    rows = [
        {
            "example_id": example,
            "group_id": group,
            "prompt": f"Prompt of {group}",
            "response": response.format(example),
            "human_rank": rank,
            "target_score": 5 - rank,
            "judge_input": "x",
            "judge_target": "Score: 5",
            "source": "s",
        }
        for group, example, rank, _, _ in REPLIES
    ]
    return artifact_frame("seed_eft", rows)


def verdicts(opponent, shares):
    """One verdict a (model_as_a, model_as_b, outcome) of `shares`, prompts q0, q1, ..."""
    rows = [
        {"prompt_id": f"q{i}", "source": "s", "model": "m", "opponent": opponent}
        | {"model_as_a": a, "model_as_b": b, "outcome": outcome}
        for i, (a, b, outcome) in enumerate(shares)
    ]
    return artifact_frame("verdicts", rows)


def answers(n, text="mine {}"):
    rows = [
        {"prompt_id": f"q{i}", "source": "s", "response": text.format(i), "model": "m"}
        | {"n_tokens": 7, "finish_reason": "stop"}
        for i in range(n)
    ]
    return artifact_frame("answers", rows)


def prompts(n, reference="ref {}"):
    rows = [
        {"prompt_id": f"q{i}", "prompt": f"Question {i}", "source": "s"}
        | {"reference": reference.format(i), "reference_model": "gpt"}
        for i in range(n)
    ]
    return artifact_frame("eval_prompts", rows)


SHARES = [(0.9, 0.8, "win"), (0.2, 0.7, "tie"), (0.1, 0.3, "loss"), (None, 0.6, "tie")]


def test_ifeval_records_carry_each_instructions_verdict_and_the_flags():
    records = ifeval_records(ifeval())
    assert [(i.instruction_id, i.strict) for i in records[1].instructions] == [
        ("a:one", True),
        ("b:two", False),
    ]
    assert [r.flags for r in records] == [
        {"failed": False, "failed_loose": False, "capped": False},
        {"failed": True, "failed_loose": False, "capped": False},
        {"failed": False, "failed_loose": False, "capped": True},
    ]
    summary = ifeval_summary(records)
    assert summary["prompt_strict"] == 0.6667 and summary["prompt_loose"] == 1.0
    assert (summary["failed"], summary["capped"], summary["instructions"]) == (1, 1, 6)


def test_judge_groups_order_replies_by_human_rank_and_count_agreeing_pairs():
    g1, g2 = judge_groups(judge(), eft_eval())
    assert [r.example_id for r in g1.replies] == ["e0", "e1", "e2"]
    assert g1.prompt == "Prompt of g1" and g1.replies[1].response == "Reply e1"
    assert g1.pairs == 3 and g1.agreeing == {"sampled": 2, "expected": 3}
    [miss] = g1.disagreements
    assert (miss.better, miss.worse, miss.better_rank, miss.kind) == ("e1", "e2", 1, "reversed")
    assert g1.flags == {"disagree": True, "unparsed": False}
    # the unparsed sample is left out of the mean, which still orders the pair right
    assert g2.replies[0].scores["sampled"] == 2.0 and g2.agreeing["sampled"] == 1
    assert g2.flags == {"disagree": False, "unparsed": True}
    summary = judge_summary([g1, g2])
    assert summary["pairs"] == 4 and summary["pairwise_accuracy"] == {
        "sampled": 0.75,
        "expected": 1.0,
    }
    assert (summary["replies"], summary["samples"], summary["unparsed"]) == (5, 7, 1)
    # without the replies' texts the groups are still there
    assert judge_groups(judge(), None)[0].replies[0].response is None


def test_comparisons_pair_both_answers_and_flag_order_flips():
    reference = reference_records(verdicts("reference:gpt", SHARES), answers(4), prompts(4))
    assert (reference[0].answer, reference[0].opponent_answer) == ("mine 0", "ref 0")
    assert reference[0].opponent == "gpt" and reference[0].prompt == "Question 0"
    assert [c.flip for c in reference] == [False, True, False, False]  # None: no verdict
    theirs = answers(3, text="theirs {}")
    h2h = h2h_records(verdicts("m1", SHARES), answers(2), None, {"m1": theirs})
    assert [c.opponent_answer for c in h2h] == ["theirs 0", "theirs 1", "theirs 2", None]
    assert h2h[3].answer is None and h2h[0].prompt is None and h2h[0].answer_meta
    assert comparison_summary(h2h) == {
        "comparisons": 4,
        "opponents": ["m1"],
        "wins": 1,
        "ties": 2,
        "losses": 1,
        "flips": 1,
    }


def write_model(root, frames):
    """Write each `frames` artifact (name -> (frame, schema)) under `root/data`."""
    for path, (frame, schema) in frames.items():
        write_artifact(frame, root / "data" / path, schema, "fp")
    return root / "data"


def test_model_output_is_text_never_markup(tmp_path):
    data = write_model(
        tmp_path,
        {
            "eval/m2/ifeval": (ifeval(response=HOSTILE), "ifeval_results"),
            "eval/m2/judge": (judge(judge_text=HOSTILE), "judge_outputs"),
            "seed/eft_eval": (eft_eval(response=HOSTILE + "{}"), "seed_eft"),
            "eval/m2/reference": (verdicts("reference:gpt", SHARES), "verdicts"),
            "eval/m2/h2h": (verdicts("m1", SHARES), "verdicts"),
            "eval/m2/answers": (answers(4, text=HOSTILE + "{}"), "answers"),
            "eval/m1/answers": (answers(4, text=HOSTILE + "{}"), "answers"),
            "eval/prompts": (prompts(4, reference=HOSTILE + "{}"), "eval_prompts"),
        },
    )
    summary = write_model_pages(
        environment(), "m2", read_model_frames(data, "m2"), tmp_path / "view", 100
    )
    assert len(summary["pages"]) == 4
    for name in summary["pages"]:
        page = (tmp_path / "view" / name).read_text()
        assert escape(HOSTILE) in page, name
        assert "<script>alert" not in page and "<img" not in page, name
        assert re.findall(r"<script[^>]*>", page) == ['<script src="../../assets/model.js">']


def test_only_the_artifacts_that_exist_get_pages(tmp_path):
    # a judge without the replies' texts, head to head with a model that has no answers
    data = write_model(
        tmp_path,
        {
            "eval/m1/judge": (judge(), "judge_outputs"),
            "eval/m1/h2h": (verdicts("m0", SHARES[:2]), "verdicts"),
        },
    )
    frames = read_model_frames(data, "m1")
    assert sorted(frames) == ["h2h", "judge"]
    summary = write_model_pages(environment(), "m1", frames, tmp_path / "view", 100)
    assert summary["ifeval"] is None and summary["reference"] is None
    assert summary["pages"] == ["models/m1/judge-0001.html", "models/m1/h2h-0001.html"]
    folder = tmp_path / "view" / "models" / "m1"
    assert sorted(p.name for p in folder.iterdir()) == ["h2h-0001.html", "judge-0001.html"]
    h2h = (folder / "h2h-0001.html").read_text()
    assert "the opponent's answer is not in the data" in h2h
    assert "answer not in eval/m1/answers" in h2h and "ifeval-0001" not in h2h
    assert "reply text not in seed/eft_eval" in (folder / "judge-0001.html").read_text()
    assert read_model_frames(data, "nobody") == {}


def test_pages_are_bounded_and_linked(tmp_path):
    frames = {"ifeval": ifeval(n=5)}
    summary = write_model_pages(environment(), "m3", frames, tmp_path, page_size=2)
    assert summary["ifeval"]["pages"] == [f"models/m3/ifeval-000{n}.html" for n in (1, 2, 3)]
    middle = (tmp_path / "models" / "m3" / "ifeval-0002.html").read_text()
    assert "3–4 of 5" in middle and middle.count('<section class="record"') == 2
    assert 'href="ifeval-0001.html">previous' in middle and 'href="ifeval-0003.html">next' in middle
    assert 'data-failed="0"' in middle and 'data-capped="1"' in middle
    assert 'href="../../assets/view.css"' in middle and "https://" not in middle


def built(model):
    """The repo's evaluation of `model` (a `dvc repro` output); skips where it is not built."""
    data = ROOT / "data"
    for path in (data / "eval" / model, data / "eval" / "prompts", data / "seed" / "eft_eval"):
        if not path.is_dir():
            pytest.skip(f"evaluation not built: {path}")
    return data


@pytest.mark.parametrize("model", ["m2", "m0"])
def test_pages_from_the_repos_evaluation(model, tmp_path):
    data = built(model)
    frames = read_model_frames(data, model)
    summary = write_model_pages(environment(), model, frames, tmp_path, page_size=100)
    folder = tmp_path / "models" / model
    for kind in ("ifeval", "judge", "reference", "h2h"):
        section = summary[kind]
        assert (section is None) == (kind not in frames), kind
        if section is not None:
            assert section["pages"] and all((tmp_path / p).is_file() for p in section["pages"])
    if "ifeval" in frames:
        assert summary["ifeval"]["prompts"] == frames["ifeval"].height
        first = frames["ifeval"].sort("key").row(0, named=True)
        page = (folder / "ifeval-0001.html").read_text()
        assert f'id="ifeval-{first["key"]}"' in page
        assert escape(first["instruction_ids"][0]) in page
    if "judge" in frames:
        replies = frames["judge"]["example_id"].n_unique()
        assert summary["judge"]["replies"] == replies and summary["judge"]["pairs"] > 0
    if "h2h" in frames:  # m0, the base model, has nobody to meet head to head
        verdict = frames["h2h"].row(0, named=True)
        theirs = frames["answers:" + verdict["opponent"]].filter(
            pl.col("prompt_id") == verdict["prompt_id"]
        )
        page = (folder / "h2h-0001.html").read_text()
        assert escape(theirs["response"][0]) in page
        assert summary["h2h"]["flips"] == page.count('data-flip="1"')
    else:
        assert not list(folder.glob("h2h-*")) and "h2h-0001" not in str(summary)
