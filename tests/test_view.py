"""The data view (`srlm view`): one iteration's artifacts joined into pages, a pair with its
judge samples and word diff, filter flags, pages of bounded size, and hostile model output
shown as text."""

import json
import re

import polars as pl
import pytest

from srlm.cli import main
from srlm.core.artifacts import write_artifact
from srlm.core.schemas import artifact_frame
from srlm.tools.view import write_view
from srlm.tools.view_data import iteration_records, word_diff

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def build_iteration(root, name="m2", n_prompts=3, hostile=False):
    """An iteration of `n_prompts` prompts, 2 candidates each: prompt 0 gets a pair (5 vs 2),
    prompt 1 ties (3 vs 3), prompt 2 has an unparsed sample and no pair."""
    ids = [f"p{i}" for i in range(n_prompts)]
    prompts = pl.DataFrame(
        {
            "prompt_id": ids,
            "prompt": [f"Question {i}?" for i in range(n_prompts)],
            "iteration": [name] * n_prompts,
            "generator": ["m1"] * n_prompts,
            "fewshot_ids": [["s1", "s2"]] * n_prompts,
        }
    )
    cand = [(p, f"{p}-c{k}") for p in ids for k in range(2)]
    answer = {
        "p0-c0": "The sky is blue because of Rayleigh scattering.",
        "p0-c1": HOSTILE if hostile else "The sky is green.",
    }
    candidates = pl.DataFrame(
        {
            "prompt_id": [p for p, _ in cand],
            "candidate_id": [c for _, c in cand],
            "prompt": [f"Question {p}?" for p, _ in cand],
            "response": [answer.get(c, f"answer {c}") for _, c in cand],
            "model": ["m1"] * len(cand),
            "seed": list(range(len(cand))),
            "n_tokens": [10] * len(cand),
            "finish_reason": ["stop"] * len(cand),
        }
    )
    score = {"p0-c0": 5.0, "p0-c1": 2.0, "p1-c0": 3.0, "p1-c1": 3.0, "p2-c0": 4.0}
    rows = [(p, c, s) for p, c in cand for s in range(2)]
    judgments = pl.DataFrame(
        {
            "prompt_id": [p for p, _, _ in rows],
            "candidate_id": [c for _, c, _ in rows],
            "sample": [s for _, _, s in rows],
            "judge_text": [
                (HOSTILE if hostile else "Fine.") + f"\nScore: {score.get(c)}" for _, c, _ in rows
            ],
            "score": [score.get(c) for _, c, _ in rows],
            "expected_score": [score.get(c) for _, c, _ in rows],
            "score_probs": [
                [0.0, 0.0, 0.1, 0.2, 0.3, 0.4] if c in score else None for _, c, _ in rows
            ],
        },
        schema_overrides={"score": pl.Float64, "expected_score": pl.Float64},
    )
    scores = pl.DataFrame(
        {
            "prompt_id": [p for p, _ in cand],
            "candidate_id": [c for _, c in cand],
            "mean_score": [score.get(c) for _, c in cand],
            "n_parsed": [2 if c in score else 0 for _, c in cand],
            "sampled_score": [score.get(c) for _, c in cand],
            "expected_score": [score.get(c) for _, c in cand],
        },
        schema_overrides={
            "mean_score": pl.Float64,
            "sampled_score": pl.Float64,
            "expected_score": pl.Float64,
        },
    )
    pairs = pl.DataFrame(
        {
            "prompt_id": ["p0"],
            "prompt": ["Question p0?"],
            "chosen": [answer["p0-c0"]],
            "rejected": [answer["p0-c1"]],
            "chosen_score": [5.0],
            "rejected_score": [2.0],
            "margin": [3.0],
        }
    )
    folder = root / "data" / name
    for kind, frame in (
        ("prompts", prompts),
        ("candidates", candidates),
        ("judgments", judgments),
        ("scores", scores),
        ("pairs", pairs),
    ):
        schema = "candidate_scores" if kind == "scores" else kind
        write_artifact(frame, folder / kind, schema, "fp")
    return prompts, candidates, judgments, scores, pairs


def test_records_join_the_pair_its_samples_and_the_flags(tmp_path):
    records = iteration_records(*build_iteration(tmp_path))
    first, tie, unparsed = records
    assert [c.role for c in first.candidates] == ["chosen", "rejected"]
    assert [s.score for s in first.candidates[0].samples] == [5.0, 5.0]
    assert first.flags == {"pair": True, "tie": False, "unparsed": False, "top": True}
    assert tie.flags == {"pair": False, "tie": True, "unparsed": False, "top": False}
    assert unparsed.flags["unparsed"] and not unparsed.flags["pair"]
    assert first.diff == [
        ("same", "The sky is "),
        ("del", "blue because of Rayleigh scattering."),
        ("ins", "green."),
    ]


def test_word_diff_keeps_every_word_of_both_sides():
    segments = word_diff("a quick brown fox", "a slow brown dog")
    chosen = "".join(t for op, t in segments if op != "ins")
    rejected = "".join(t for op, t in segments if op != "del")
    assert chosen == "a quick brown fox" and rejected == "a slow brown dog"


def test_the_view_shows_a_pair_with_its_judge_samples_and_why_others_have_none(tmp_path):
    build_iteration(tmp_path)
    out = write_view(tmp_path / "data", None, tmp_path / "view")
    index = (out / "index.html").read_text()
    assert 'href="m2/page-0001.html"' in index
    page = (out / "m2" / "page-0001.html").read_text()
    section = page.split('id="p0"')[1].split("</section>")[0]
    assert "chosen: 5.00" in section and "rejected: 2.00 (margin 3.00)" in section
    # side by side, word-diffed, each answer once
    assert '<span class="del">blue because of Rayleigh scattering.</span>' in section
    assert '<span class="ins">The sky is green.</span>' not in section
    assert '<span class="ins">green.</span>' in section
    assert section.count("Rayleigh") == 1 and "the chosen answer, above" in section
    assert section.count('<details class="sample') == 4  # 2 candidates x 2 samples
    assert "P(score): 0: 0.00" in section
    assert 'data-pair="1"' in page and 'data-tie="1"' in page and 'data-unparsed="1"' in page
    assert "a tie: every scored candidate has 3.00" in page
    assert "fewer than two candidates have a parsed score" in page
    for asset in ("view.css", "view.js"):
        assert (out / "assets" / asset).is_file()
    assert "http://" not in page and "https://" not in page  # nothing fetched


def test_model_output_is_text_never_markup(tmp_path):
    build_iteration(tmp_path, hostile=True)
    page = (
        write_view(tmp_path / "data", ["m2"], tmp_path / "view") / "m2" / "page-0001.html"
    ).read_text()
    assert "&lt;script&gt;alert(" in page and "onerror=alert(1)&gt;" in page
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="flags.js">',
        '<script src="../assets/view.js">',
    ]
    assert "<img" not in page


def test_pages_are_bounded_and_linked(tmp_path):
    build_iteration(tmp_path, n_prompts=7)
    out = write_view(tmp_path / "data", ["m2"], tmp_path / "view", page_size=3)
    names = sorted(p.name for p in (out / "m2").iterdir())
    assert names == ["flags.js", "page-0001.html", "page-0002.html", "page-0003.html"]
    last = (out / "m2" / "page-0003.html").read_text()
    assert "prompts 7–7 of 7" in last and 'href="page-0002.html">previous' in last
    assert last.count('<section class="prompt"') == 1


def test_srlm_view_command(tmp_path, capsys, monkeypatch):
    build_iteration(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["view"]) == 0
    assert "reports/view/index.html" in capsys.readouterr().out
    assert main(["view", "--data", "nowhere"]) == 1
    assert "no iteration with pairs" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["0", "-1", "x"])
def test_page_size_must_be_a_count(size, capsys):
    with pytest.raises(SystemExit):
        main(["view", "--page-size", size])


MONITORS = {
    "iteration": "m2",
    "judge_consistency_tau": -0.13,
    "length_gap_chars": -77.9,
    "length_ratio_vs_m1": 0.99,
    "pair_yield": 1.0,
    "parse_rate": 0.9889,
    "score_gap": 1.0,
    "scoring": "sampled",
    "top_score_share": 0.2528,
}


def build_evaluation(root, models=("m1", "m2"), hostile=False):
    """Evaluation prompts (one with a reference answer), each model's answers to them, and
    each model's verdicts against the reference."""
    ids = ["e0", "e1"]
    write_artifact(
        artifact_frame(
            "eval_prompts",
            [
                {"prompt_id": "e0", "prompt": "Name a colour.", "source": "human/x.jsonl",
                 "reference": "Blue.", "reference_model": "human"},
                {"prompt_id": "e1", "prompt": "Count to two.", "source": "mt_bench/writing"},
            ],
        ),
        root / "data" / "eval" / "prompts", "eval_prompts", "fp",
    )  # fmt: skip
    for model in models:
        answers = [
            {"prompt_id": i, "source": "s", "model": model, "n_tokens": 3,
             "finish_reason": "stop",
             "response": HOSTILE if hostile and model == "m2" else f"{model} says {i}"}
            for i in ids
        ]  # fmt: skip
        write_artifact(
            artifact_frame("answers", answers), root / "data" / "eval" / model / "answers",
            "answers", "fp",
        )  # fmt: skip
        verdict = {"prompt_id": "e0", "source": "s", "model": model, "opponent": "reference",
                   "model_as_a": 0.9, "model_as_b": 0.8,
                   "outcome": "win" if model == "m2" else "loss"}  # fmt: skip
        write_artifact(
            artifact_frame("verdicts", [verdict]), root / "data" / "eval" / model / "reference",
            "verdicts", "fp",
        )  # fmt: skip


def test_monitors_link_to_the_prompts_that_show_them(tmp_path):
    build_iteration(tmp_path)
    build_evaluation(tmp_path)
    (tmp_path / "metrics" / "m2").mkdir(parents=True)
    (tmp_path / "metrics" / "m2" / "monitors.json").write_text(json.dumps(MONITORS))
    out = write_view(tmp_path / "data", None, tmp_path / "view", metrics_dir=tmp_path / "metrics")
    index = (out / "index.html").read_text()
    rows = dict(re.findall(r"<tr><td>(\w+)</td><td>[^<]*</td>\s*<td>(.*?)</td></tr>", index, re.S))
    assert 'href="m2/page-0001.html#unparsed"' in rows["parse_rate"]
    assert 'href="m2/page-0001.html#top"' in rows["top_score_share"]
    assert 'href="m2/page-0001.html#tie"' in rows["pair_yield"]
    assert 'href="answers-0001.html"' in rows["length_ratio_vs_m1"]
    assert "no example view" in rows["judge_consistency_tau"]
    # without a metrics folder the view has no monitors, and says nothing wrong
    bare = write_view(tmp_path / "data", None, tmp_path / "bare")
    assert "loop monitors" not in (bare / "index.html").read_text()


def test_flags_script_counts_every_prompt_of_the_iteration(tmp_path):
    build_iteration(tmp_path, n_prompts=7)
    out = write_view(tmp_path / "data", ["m2"], tmp_path / "view", page_size=3)
    script = (out / "m2" / "flags.js").read_text()
    data = json.loads(script.removeprefix("window.SRLM_FLAGS = ").rstrip(";\n"))
    assert data["flags"] == ["pair", "tie", "unparsed", "top"]
    assert data["pages"] == ["page-0001.html", "page-0002.html", "page-0003.html"]
    assert [row[0] for row in data["rows"]] == [0, 0, 0, 1, 1, 1, 2]
    # p0: pair + top (bits 0 and 3); p1: tie (bit 1); p2..p6: tie + unparsed (bits 1, 2)
    assert [row[1] for row in data["rows"]] == [9, 2, 6, 6, 6, 6, 6]
    assert data["rows"][0][2] == len("The sky is blue because of Rayleigh scattering.")


def test_dropped_generations_are_listed_with_their_reason(tmp_path):
    build_iteration(tmp_path)
    dropped = [
        {"request_id": f"m2-{n}", "text": text, "reason": reason, "fewshot_ids": ["s1"],
         "iteration": "m2"}
        for n, (text, reason) in enumerate(
            [("Score: 4", "judge_format"), ("Why?", "too_short"), ("", "empty"),
             (HOSTILE, "bad_start")]
        )
    ]  # fmt: skip
    write_artifact(
        artifact_frame("dropped_prompts", dropped),
        tmp_path / "data" / "m2" / "prompts_dropped",
        "dropped_prompts",
        "fp",
    )
    out = write_view(tmp_path / "data", None, tmp_path / "view")
    assert 'href="m2/dropped-0001.html">4</a>' in (out / "index.html").read_text()
    page = (out / "m2" / "dropped-0001.html").read_text()
    reasons = re.findall(r'<tr data-reason="(\w+)">', page)
    assert reasons == sorted(reasons) == ["bad_start", "empty", "judge_format", "too_short"]
    assert "<b>judge_format</b> 1" in page and "Score: 4" in page
    assert "&lt;script&gt;" in page and "<img" not in page
    assert (
        'href="dropped-0001.html">dropped generations'
        in (out / "m2" / "page-0001.html").read_text()
    )


def test_answers_side_by_side_and_the_diff_between_iterations(tmp_path):
    build_iteration(tmp_path, "m2")
    build_iteration(tmp_path, "m3", n_prompts=4)
    build_evaluation(tmp_path, hostile=True)
    out = write_view(tmp_path / "data", None, tmp_path / "view")
    index = (out / "index.html").read_text()
    assert 'href="answers-0001.html"' in index and 'href="diff/m2-m3.html"' in index
    assert 'href="models/m1/reference-0001.html"' in index
    page = (out / "answers-0001.html").read_text()
    first = page.split('id="e0"')[1].split("</section>")[0]
    assert "Blue." in first and "m1 says e0" in first
    assert "loss vs reference" in first and "win vs reference" in first
    assert "&lt;script&gt;alert(" in first and "<img" not in page
    second = page.split('id="e1"')[1].split("</section>")[0]
    assert "reference" not in second and "m1 says e1" in second
    diff = (out / "diff" / "m2-m3.html").read_text()
    sections = re.findall(r'<section class="diff" id="(\w+)">', diff)
    assert sections == ["prompts", "candidates", "judgments", "scores", "pairs"]
    candidates = diff.split('id="candidates"')[1].split("</section>")[0]
    assert "6 → 8" in candidates  # 3 prompts x 2 candidates, then 4 x 2
    assert "response length" in candidates and "model length" not in candidates
    assert "margin" in diff.split('id="pairs"')[1]


def test_a_prompt_shows_the_few_shot_examples_it_was_written_from(tmp_path):
    build_iteration(tmp_path)
    seed = [{"example_id": "s1", "prompt": "How do tides work?", "response": "r", "source": "x"}]
    write_artifact(
        artifact_frame("seed_ift", seed), tmp_path / "data" / "seed" / "ift", "seed_ift", "fp"
    )
    out = write_view(tmp_path / "data", None, tmp_path / "view")
    section = (out / "m2" / "page-0001.html").read_text().split('id="p0"')[1].split("</section>")[0]
    fewshot = section.split('<details class="fewshot">')[1].split("</details>")[0]
    assert "written from 2 few-shot examples: s1, s2" in fewshot
    assert "<pre>How do tides work?</pre>" in fewshot  # s1: a seed prompt
    assert "(text not in the view's data)" in fewshot  # s2: in no artifact here
