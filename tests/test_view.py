"""The data view (`srlm view`): one iteration's artifacts joined into pages, a pair with its
judge samples and word diff, filter flags, pages of bounded size, and hostile model output
shown as text."""

import re

import polars as pl
import pytest

from srlm.cli import main
from srlm.core.artifacts import write_artifact
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
    assert re.findall(r"<script[^>]*>", page) == ['<script src="../assets/view.js">']
    assert "<img" not in page


def test_pages_are_bounded_and_linked(tmp_path):
    build_iteration(tmp_path, n_prompts=7)
    out = write_view(tmp_path / "data", ["m2"], tmp_path / "view", page_size=3)
    names = sorted(p.name for p in (out / "m2").iterdir())
    assert names == ["page-0001.html", "page-0002.html", "page-0003.html"]
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
