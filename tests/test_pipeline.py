"""The whole DVC pipeline, M0 -> M3, on a tiny random model with the fake engine.

Runs the real dvc.yaml, stage scripts and srlm modules in a scratch copy of the project, so
`dvc repro`, the foreach unrolling, caching and "only what changed reruns" are all exercised.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from srlm.core.artifacts import read_artifact

pytestmark = pytest.mark.integration


def dvc(project: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [str(Path(bin_dir) / "dvc"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory, fake_pipeline):
    """The whole pipeline as its first `dvc repro` built it (`fake_pipeline`, built once per
    session and shared with tests/test_remote.py), copied: these tests change it."""
    return fake_pipeline.copy(tmp_path_factory.mktemp("project") / "project")


def test_fake_pipeline_builds_every_artifact(project, fake_pipeline):
    out = fake_pipeline.repro_stdout
    for stage in (
        "base",
        "seed",
        "sft",
        "eval_prompts",
        "prompts@m2",
        "dpo@m2",
        "dpo@m3",
        "answers@m0",
        "ifeval@m0",
        "ifeval@m3",
        "evaluate_judge@m3",
        "evaluate_reference@m1",
        "evaluate_h2h@m3",
        "report",
    ):
        assert f"Running stage '{stage}'" in out
    for iteration in ("m2", "m3"):
        prompts = read_artifact(project / "data" / iteration / "prompts", "prompts")
        candidates = read_artifact(project / "data" / iteration / "candidates", "candidates")
        judgments = read_artifact(project / "data" / iteration / "judgments", "judgments")
        pairs = read_artifact(project / "data" / iteration / "pairs", "pairs")
        assert 0 < prompts.height <= 6
        # every generation is a kept prompt or a dropped one, with its reason
        dropped = read_artifact(project / "data" / iteration / "prompts_dropped", "dropped_prompts")
        tried = json.loads((project / "metrics" / iteration / "prompts.json").read_text())
        assert prompts.height + dropped.height == tried["generated"]
        assert candidates.height == 4 * prompts.height
        assert judgments.height == 3 * candidates.height
        assert 0 < pairs.height <= prompts.height
        assert (project / "data" / "models" / iteration / "model.safetensors").is_file()
    # m3's candidates come from m2, m2's from m1
    m3 = read_artifact(project / "data" / "m3" / "candidates", "candidates")
    assert set(m3["model"]) == {"data/models/m2"}
    # every evaluation rate carries its interval; iterations carry paired judge differences
    metrics = project / "metrics"
    judge = json.loads((metrics / "m2" / "judge.json").read_text())
    for mode in ("sampled", "expected"):
        for name in ("pairwise_accuracy", "spearman", "kendall_tau"):
            assert f"{name}_ci95" in judge[mode]
    h2h = json.loads((metrics / "m3" / "h2h.json").read_text())
    for key in ("win_rate_ci95", "flip_rate", "soft_win_rate", "soft_win_rate_ci95"):
        assert key in h2h
    assert h2h["judge"]["sampled"]["n_groups"] > 0
    assert "pairwise_accuracy_diff_ci95" in h2h["judge"]["expected"]
    reference = json.loads((metrics / "m1" / "reference.json").read_text())
    assert reference["opponent"].startswith("reference:") and "human-rank0" in reference["opponent"]
    for iteration in ("m2", "m3"):
        monitors = json.loads((metrics / iteration / "monitors.json").read_text())
        assert monitors["judge_consistency_n"] == 16 and 0 <= monitors["top_score_share"] <= 1
    # IFEval for every model, paired against its base and m0 on the same 12 prompts
    paired = json.loads((project / "reports" / "ifeval_paired.json").read_text())
    assert {m: sorted(v) for m, v in paired.items()} == {
        "m1": ["vs_base"],
        "m2": ["vs_base", "vs_m0"],
        "m3": ["vs_base", "vs_m0"],
    }
    assert paired["m3"]["vs_base"]["against"] == "m2" and paired["m3"]["vs_m0"]["n_prompts"] == 12
    summary = (project / "reports" / "summary.md").read_text()
    assert "### Loop monitors" in summary and summary.startswith("### IFEval")
    for chart in ("ifeval.png", "reward_model.png", "win_rates.png", "judge_scores.png"):
        assert (project / "reports" / "plots" / chart).read_bytes()[:4] == b"\x89PNG"
        assert f"](plots/{chart})" in summary


def test_diff_of_two_iterations_matches_polars(project, capsys):
    from srlm.cli import main

    m2, m3 = (project / "data" / it / "candidates" for it in ("m2", "m3"))
    assert main(["diff", str(m2), str(m3), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    old, new = read_artifact(m2), read_artifact(m3)
    assert report["rows"]["before"] == old.height and report["rows"]["after"] == new.height
    assert report["rows"]["added"] == new.join(old, on="candidate_id", how="anti").height
    assert report["rows"]["removed"] == old.join(new, on="candidate_id", how="anti").height
    assert report["text"]["after"]["response"]["mean"] == round(
        new["response"].str.len_chars().mean(), 4
    )
    pairs_old, pairs_new = (read_artifact(project / "data" / it / "pairs") for it in ("m2", "m3"))
    assert (
        main(["diff", str(project / "data/m2/pairs"), str(project / "data/m3/pairs"), "--json"])
        == 0
    )
    pairs = json.loads(capsys.readouterr().out)
    assert pairs["pairs"]["margin_after"]["mean"] == round(pairs_new["margin"].mean(), 4)
    hist = pairs_new["chosen_score"].round(0).cast(pl.Int64).value_counts()
    assert pairs["scores"]["after"]["chosen_score"]["histogram"] == {
        str(s): int(dict(hist.iter_rows()).get(s, 0)) for s in range(6)
    }
    assert main(["diff", str(m3), str(m3)]) == 0
    assert "no change" in capsys.readouterr().out


def test_second_repro_runs_nothing(project):
    out = dvc(project, "repro").stdout
    assert "Running stage" not in out
    assert "didn't change" in out or "up to date" in out


def test_adding_an_iteration_runs_only_its_stages(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["iterations"]["m4"] = {"base": "m3"}
    params["evaluation"]["models"].append("m4")
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = dvc(project, "repro").stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {
        "prompts@m4",
        "candidates@m4",
        "judgments@m4",
        "pairs@m4",
        "dpo@m4",
        "answers@m4",
        "ifeval@m4",
        "evaluate_judge@m4",
        "evaluate_reference@m4",
        "evaluate_h2h@m4",
        "monitors@m4",
        "anchors@m4",
        "view",
        "report",
    }
    assert "| m4 |" in (project / "reports" / "summary.md").read_text()
    # the data view shows the new iteration (a pair with its judge samples) and model
    view = project / "reports" / "view"
    page = (view / "m4" / "page-0001.html").read_text()
    assert '<div class="chosen">' in page and '<details class="sample' in page
    index = (view / "index.html").read_text()
    assert 'href="m4/page-0001.html"' in index and 'href="diff/m3-m4.html"' in index
    assert 'href="models/m4/ifeval-0001.html"' in index
    assert (view / "models" / "m4" / "h2h-0001.html").is_file()


@pytest.mark.parametrize("mode", ["anchored", "length_controlled"])
def test_pair_modes_run_end_to_end(project, mode):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pairs"].update(mode=mode, length_epsilon=1.0)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # anchored pairs need m3 (m2's candidates are the anchor model's own); the
    # length-controlled rule is the same in every iteration, so m2 shows it
    last = "m3" if mode == "anchored" else "m2"
    out = dvc(project, "repro", f"dpo@{last}").stdout
    assert "Running stage 'pairs@m2'" in out and f"Running stage 'dpo@{last}'" in out
    for iteration in ("m2", "m3")[: 2 if mode == "anchored" else 1]:
        metrics = json.loads((project / "metrics" / iteration / "pairs.json").read_text())
        pairs = read_artifact(project / "data" / iteration / "pairs", "pairs")
        assert metrics["mode"] == mode and metrics["pairs"] == pairs.height > 0
        anchors = read_artifact(project / "data" / iteration / "anchors", "anchors")
        if mode == "anchored":
            assert "Running stage 'anchors@m3'" in out
            assert 0 <= metrics["anchored_rejections"] <= pairs.height
            if iteration == "m2":  # m2's candidates are M1's: nothing to anchor from outside
                assert metrics["anchored_rejections"] == 0
            # m3's anchors are M1's answers to m3's prompts, judged by m2
            assert set(anchors["model"]) == {"data/models/m1"}
            prompts = read_artifact(project / "data" / iteration / "prompts", "prompts")
            assert set(anchors["prompt_id"]) == set(prompts["prompt_id"])
        else:
            assert anchors.height == 0 and metrics["length_epsilon"] == 1.0
            candidates = read_artifact(project / "data" / iteration / "candidates")
            scores = read_artifact(project / "data" / iteration / "scores")
            scored = candidates.join(scores, on="candidate_id")
            for row in pairs.iter_rows(named=True):
                near_top = scored.filter(
                    (pl.col("prompt_id") == row["prompt_id"])
                    & (
                        pl.col("mean_score")
                        >= scored.filter(pl.col("prompt_id") == row["prompt_id"])[
                            "mean_score"
                        ].max()
                        - 1.0
                    )
                )
                assert len(row["chosen"]) == near_top["response"].str.len_chars().min()
