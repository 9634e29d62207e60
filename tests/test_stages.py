"""The stage scripts as DVC runs them: real files in, artifacts and metrics out."""

import json

import polars as pl
import pytest

from srlm.core.artifacts import read_artifact, read_manifest
from srlm.core.model_identity import folder_hash, recorded_hash
from srlm.evaluation.intervals import MIN_ITEMS
from srlm.evaluation.metrics import judge_intervals, reward_model_metrics
from tests.helpers import ROOT, repo_file, requires_shared_data, run_stage, shared_file

pytestmark = pytest.mark.integration  # every test runs a stage script in a subprocess

EMBEDDED = ROOT / "srlm" / "seed_data"


def params_file(tmp_path, text=""):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return str(path)


def seed_args(
    tmp_path, *sources, eval_source=str(EMBEDDED / "eval.trees.jsonl"), extra=(), params=""
):
    args = ["--params", params_file(tmp_path, "seed:\n  ift_size: 10\n  eft_size: 12\n" + params)]
    for source in sources:
        args += ["--source", str(source)]
    args += ["--eval-source", eval_source, *extra]
    for name in ("ift", "eft", "eft-eval"):
        args += [f"--{name}", str(tmp_path / "seed" / name)]
    return args + ["--metrics", str(tmp_path / "seed.json")]


def test_seed_stage_builds_three_valid_artifacts(tmp_path):
    result = run_stage("seed", *seed_args(tmp_path, EMBEDDED / "train.trees.jsonl"))
    assert result.returncode == 0, result.stderr
    ift = read_artifact(tmp_path / "seed" / "ift", "seed_ift")
    eft = read_artifact(tmp_path / "seed" / "eft", "seed_eft")
    eft_eval = read_artifact(tmp_path / "seed" / "eft-eval", "seed_eft")
    assert ift.height == 10 and 9 <= eft.height <= 12 and eft_eval.height == 60
    stats = json.loads((tmp_path / "seed.json").read_text())
    assert stats["ift"] == 10 and stats["decontaminated_prompts"] == 0
    # rebuilding from the same inputs gives the same artifact bytes (so DVC reruns nothing)
    before = (tmp_path / "seed" / "eft" / "part-00000.parquet").read_bytes()
    assert run_stage("seed", *seed_args(tmp_path, EMBEDDED / "train.trees.jsonl")).returncode == 0
    assert (tmp_path / "seed" / "eft" / "part-00000.parquet").read_bytes() == before


@requires_shared_data
def test_seed_stage_decontaminates_real_data(tmp_path):
    validation = str(repo_file("oasst", "oasst1_en_validation.messages.jsonl"))
    trees = repo_file("oasst", "oasst_2023-03_en_100.trees.jsonl")
    alpaca = shared_file("alpaca_eval", "gpt4_1106_preview.model_outputs.json")
    # AlpacaEval by params alone: the seed stage decontaminates against it too
    result = run_stage(
        "seed",
        *seed_args(
            tmp_path,
            trees,
            eval_source=validation,
            params=f"evaluation:\n  alpaca_eval: {alpaca}\n",
        ),
    )
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "seed.json").read_text())
    assert stats["decontaminated_prompts"] == 6
    assert stats["decontamination_prompts"] == 805
    assert stats["dropped_on_read"] == {"prompt_synthetic": 5}


def test_bad_seed_file_is_one_clear_line_and_keeps_built_artifacts(tmp_path):
    good = run_stage("seed", *seed_args(tmp_path, EMBEDDED / "train.trees.jsonl"))
    assert good.returncode == 0
    fingerprint = read_manifest(tmp_path / "seed" / "ift")["fingerprint"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text((EMBEDDED / "train.trees.jsonl").read_text().splitlines()[0] + "\n{oops\n")
    result = run_stage("seed", *seed_args(tmp_path, bad))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {bad}:2: malformed JSON (Expecting property name enclosed in double quotes)"
    )
    assert "Traceback" not in result.stderr
    assert read_manifest(tmp_path / "seed" / "ift")["fingerprint"] == fingerprint


def test_bad_params_are_one_clear_line(tmp_path):
    args = seed_args(tmp_path, EMBEDDED / "train.trees.jsonl")
    args[1] = params_file(tmp_path, "seed:\n  ift_sizes: 3\n")
    result = run_stage("seed", *args)
    assert result.returncode == 1
    assert "unknown key 'seed.ift_sizes'" in result.stderr and "Traceback" not in result.stderr


def test_sft_and_evaluate_judge_stages(tmp_path, tiny_model_dir):
    assert run_stage("seed", *seed_args(tmp_path, EMBEDDED / "train.trees.jsonl")).returncode == 0
    params = params_file(
        tmp_path,
        ("sft:\n  batch_size: 4\n  precision: fp32\n  max_length: 256\nengine:\n  backend: fake\n"),
    )
    result = run_stage(
        "sft",
        "--params",
        params,
        "--base",
        str(tiny_model_dir),
        "--ift",
        str(tmp_path / "seed" / "ift"),
        "--eft",
        str(tmp_path / "seed" / "eft"),
        "--out",
        str(tmp_path / "m1"),
        "--metrics",
        str(tmp_path / "sft.json"),
        "--loss",
        str(tmp_path / "loss.csv"),
    )
    assert result.returncode == 0, result.stderr
    sft = json.loads((tmp_path / "sft.json").read_text())
    # judge prompts (~500 tokens) exceed max_length 256: dropped and counted, never cut
    assert sft["dropped_too_long"] == sft["eft_examples"] > 0
    assert sft["examples"] == sft["ift_examples"] and sft["steps"] > 0
    assert (tmp_path / "m1" / "model.safetensors").is_file()
    # sft records M1's hash as it writes it, and the next stage fingerprints M1 from the record
    assert recorded_hash(tmp_path / "m1") == (folder_hash(tmp_path / "m1"), "")
    result = run_stage(
        "evaluate_judge",
        "--params",
        params,
        "--model",
        str(tmp_path / "m1"),
        "--eft-eval",
        str(tmp_path / "seed" / "eft-eval"),
        "--out",
        str(tmp_path / "judge"),
        "--metrics",
        str(tmp_path / "judge.json"),
    )
    assert result.returncode == 0, result.stderr
    assert "to fingerprint it" not in result.stderr
    metrics = json.loads((tmp_path / "judge.json").read_text())
    outputs = read_artifact(tmp_path / "judge", "judge_outputs")
    assert outputs.height == 3 * 60 and metrics["samples_per_reply"] == 3
    assert metrics["samples"]["parsed"] == outputs["score"].is_not_null().sum()
    # both scoring modes, computed from the same judgments
    for mode in ("sampled", "expected"):
        assert metrics[mode]["n_replies"] == 60 and metrics[mode]["n_groups"] == 20
        assert 0 <= metrics[mode]["pairwise_accuracy"] <= 1
    per_reply = outputs.group_by("example_id", "group_id", "human_rank").agg(
        score=pl.col("expected_score").mean()
    )
    assert metrics["expected"] == {**reward_model_metrics(per_reply), **judge_intervals(per_reply)}
    low, high = metrics["expected"]["pairwise_accuracy_ci95"]
    assert low <= metrics["expected"]["pairwise_accuracy"] <= high
    assert (outputs["expected_score"].is_null() == outputs["score"].is_null()).all()


def eval_prompts_args(tmp_path, params) -> list[str]:
    """The eval_prompts stage as dvc.yaml runs it, on the data shipped in data/raw."""
    return [
        "--params",
        params,
        "--references",
        str(repo_file("oasst", "oasst1_en_validation.messages.jsonl")),
        "--mt-bench",
        str(repo_file("mt_bench", "question.jsonl")),
        "--mt-bench-references",
        str(repo_file("mt_bench", "reference_answer.gpt-4.jsonl")),
        "--out",
        str(tmp_path / "eval" / "prompts"),
        "--metrics",
        str(tmp_path / "prompts.json"),
    ]


@requires_shared_data
def test_alpaca_eval_references_by_params_alone(tmp_path):
    alpaca = shared_file("alpaca_eval", "gpt4_1106_preview.model_outputs.json")
    params = params_file(
        tmp_path,
        f"evaluation:\n  alpaca_eval: {alpaca}\n  reference_limit: 6\n  mt_bench_limit: 0\n",
    )
    result = run_stage("eval_prompts", *eval_prompts_args(tmp_path, params))
    assert result.returncode == 0, result.stderr
    frame = read_artifact(tmp_path / "eval" / "prompts", "eval_prompts")
    assert frame.height == 6 and set(frame["reference_model"]) == {"gpt4_1106_preview"}
    assert set(frame["source"]) == {"alpaca_eval/oasst"}  # the default subset


def test_evaluation_stages_answer_compare_and_report(tmp_path):
    params = params_file(
        tmp_path,
        (
            "engine:\n  backend: fake\n"
            "evaluation:\n  reference_limit: 5\n  mt_bench_limit: 3\n  models: [m1, m2]\n"
            "iterations:\n  m2: {base: m1}\n"
            "ifeval:\n  limit: 10\n"
            "evaluator:\n  model: judge-model\n"
        ),
    )
    prompts = tmp_path / "eval" / "prompts"
    result = run_stage("eval_prompts", *eval_prompts_args(tmp_path, params))
    assert result.returncode == 0, result.stderr
    frame = read_artifact(prompts, "eval_prompts")
    mt_refs = frame.filter(
        frame["source"].str.starts_with("mt_bench/") & frame["reference"].is_not_null()
    ).height
    assert frame.height == 8 and frame["reference"].is_not_null().sum() == 5 + mt_refs
    human = frame.filter(frame["reference_model"] == "human-rank0")
    assert human.height == 5 and set(human["source"]) == {
        "human/oasst1_en_validation.messages.jsonl"
    }
    prompt_metrics = json.loads((tmp_path / "prompts.json").read_text())
    assert prompt_metrics["reference_sets"]["human-rank0"] == 5
    metrics = tmp_path / "metrics"
    for model in ("m1", "m2"):
        model_dir = tmp_path / "models" / model  # the fake engine loads nothing from it
        model_dir.mkdir(parents=True)
        (model_dir / "config.json").write_text(f'{{"name": "{model}"}}')
        result = run_stage(
            "answers",
            "--params",
            params,
            "--model",
            str(model_dir),
            "--prompts",
            str(prompts),
            "--out",
            str(tmp_path / model / "answers"),
            "--metrics",
            str(metrics / model / "answers.json"),
        )
        assert result.returncode == 0, result.stderr
        common = [
            "--params",
            params,
            "--prompts",
            str(prompts),
            "--answers",
            str(tmp_path / model / "answers"),
            "--name",
            model,
        ]
        result = run_stage(
            "compare",
            *common,
            "--reference",
            "--out",
            str(tmp_path / model / "reference"),
            "--metrics",
            str(metrics / model / "reference.json"),
        )
        assert result.returncode == 0, result.stderr
    result = run_stage(
        "compare",
        "--params",
        params,
        "--prompts",
        str(prompts),
        "--answers",
        str(tmp_path / "m2" / "answers"),
        "--name",
        "m2",
        "--opponent-answers",
        str(tmp_path / "m1" / "answers"),
        "--opponent-name",
        "m1",
        "--out",
        str(tmp_path / "m2" / "h2h"),
        "--metrics",
        str(metrics / "m2" / "h2h.json"),
    )
    assert result.returncode == 0, result.stderr
    h2h = json.loads((metrics / "m2" / "h2h.json").read_text())
    verdicts = read_artifact(tmp_path / "m2" / "h2h", "verdicts")
    assert h2h["n"] == verdicts.height == 8 and h2h["opponent"] == "m1"
    assert h2h["wins"] + h2h["ties"] + h2h["losses"] == 8
    assert h2h["evaluator"] == "judge-model"
    reference = json.loads((metrics / "m1" / "reference.json").read_text())
    assert reference["n"] == 5 + mt_refs
    assert reference["opponent"] == "reference:" + ",".join(
        sorted({"human-rank0"} | ({"mt_bench:gpt-4"} if mt_refs else set()))
    )
    assert reference["by_source"]["human/oasst1_en_validation.messages.jsonl"]["n"] == 5
    for model in ("m1", "m2"):
        result = run_stage(
            "ifeval",
            "--params",
            params,
            "--model",
            str(tmp_path / "models" / model),
            "--data",
            str(ROOT / "data/raw/ifeval/input_data.jsonl"),
            "--out",
            str(tmp_path / model / "ifeval"),
            "--metrics",
            str(metrics / model / "ifeval.json"),
            "--prompts-table",
            str(metrics / model / "ifeval_prompts.csv"),
            "--instructions-table",
            str(metrics / model / "ifeval_instructions.csv"),
        )
        assert result.returncode == 0, result.stderr
    ifeval = json.loads((metrics / "m2" / "ifeval.json").read_text())
    checked = read_artifact(tmp_path / "m2" / "ifeval", "ifeval_results")
    assert ifeval["n_prompts"] == checked.height == 10  # `ifeval.limit` in the params above
    assert ifeval["n_instructions"] == checked["instruction_ids"].list.len().sum()
    for figure in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"):
        assert 0 <= ifeval[figure] <= 1 and len(ifeval[f"{figure}_ci95"]) == 2
    result = run_stage(
        "report",
        "--params",
        params,
        "--metrics-dir",
        str(metrics),
        "--out",
        str(tmp_path / "report.md"),
        "--plots",
        str(tmp_path / "plots"),
        "--paired",
        str(tmp_path / "paired.json"),
    )
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("### IFEval")  # the judge-free numbers lead
    paired = json.loads((tmp_path / "paired.json").read_text())
    assert set(paired) == {"m2"} and paired["m2"]["vs_base"]["against"] == "m1"
    assert (
        paired["m2"]["vs_base"]["n_prompts"] == 10
        and "prompt_strict_mde" in paired["m2"]["vs_base"]
    )
    m2_reference = json.loads((metrics / "m2" / "reference.json").read_text())
    if m2_reference["n"] < MIN_ITEMS:  # too few prompts for an interval: the value alone
        assert m2_reference["win_rate_ci95"] is None
        assert f"| m2 | {100 * m2_reference['win_rate']:.1f} | " in report
    else:
        low, high = m2_reference["win_rate_ci95"]
        assert (
            f"| m2 | {100 * m2_reference['win_rate']:.1f} [{100 * low:.1f}, {100 * high:.1f}] | "
            in report
        )
    assert (tmp_path / "plots" / "win_rates.png").is_file() and "](plots/win_rates.png)" in report
    assert f"{h2h['wins']}/{h2h['ties']}/{h2h['losses']}" in report
    assert "Evaluator: judge-model" in report
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {
        "ifeval.csv",
        "ifeval.png",
        "reward_model.csv",
        "win_rates.csv",
        "judge_scores.csv",
        "monitors.csv",
        "win_rates.png",
    }


def fake_model(tmp_path, name):
    folder = tmp_path / "models" / name  # the fake engine loads nothing from it
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(f'{{"name": "{name}"}}')
    return str(folder)


def test_external_judge_scores_and_reports_agreement_with_the_self_judge(tmp_path):
    from srlm.core.artifacts import write_artifact

    prompts = pl.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(6)],
            "prompt": [f"Question number {i}?" for i in range(6)],
            "iteration": ["m2"] * 6,
            "generator": ["m1"] * 6,
            "fewshot_ids": [[]] * 6,
        },
        schema_overrides={"fewshot_ids": pl.List(pl.Utf8)},
    )
    write_artifact(prompts, tmp_path / "prompts", "prompts", "fp")
    own, teacher = fake_model(tmp_path, "m1"), fake_model(tmp_path, "teacher")
    judged = {}
    for name, judge in (("self", "{}"), ("external", f"{{model: {teacher}, agreement_sample: 5}}")):
        params = params_file(tmp_path, f"engine:\n  backend: fake\njudge: {judge}\n")
        assert (
            run_stage(
                "candidates",
                "--params",
                params,
                "--iteration",
                "m2",
                "--model",
                own,
                "--prompts",
                str(tmp_path / "prompts"),
                "--out",
                str(tmp_path / "candidates"),
                "--metrics",
                str(tmp_path / "c.json"),
            ).returncode
            == 0
        )
        result = run_stage(
            "judgments",
            "--params",
            params,
            "--iteration",
            "m2",
            "--model",
            own,
            "--candidates",
            str(tmp_path / "candidates"),
            "--out",
            str(tmp_path / name / "judgments"),
            "--scores",
            str(tmp_path / name / "scores"),
            "--metrics",
            str(tmp_path / name / "metrics.json"),
        )
        assert result.returncode == 0, result.stderr
        judged[name] = read_artifact(tmp_path / name / "judgments", "judgments")
    metrics = json.loads((tmp_path / "external" / "metrics.json").read_text())
    assert metrics["judge_model"] == teacher
    agreement = metrics["self_judge_agreement"]
    assert agreement["n"] == 5 and agreement["mean_abs_diff"] is not None
    self_metrics = json.loads((tmp_path / "self" / "metrics.json").read_text())
    assert "self_judge_agreement" not in self_metrics
    # the fake engine answers per model: the teacher's judgments are its own
    assert not judged["self"]["judge_text"].equals(judged["external"]["judge_text"])


def test_missing_input_artifact_is_one_clear_line(tmp_path):
    result = run_stage(
        "sft",
        "--params",
        params_file(tmp_path),
        "--base",
        "m0",
        "--ift",
        str(tmp_path / "nope"),
        "--eft",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "m1"),
        "--metrics",
        str(tmp_path / "m.json"),
        "--loss",
        str(tmp_path / "l.csv"),
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"error: {tmp_path / 'nope'}: no such artifact (build it with `dvc repro`)"
    )
    assert not (tmp_path / "m1").exists()


@pytest.mark.parametrize(
    "model, message",
    [
        ("no/such/dir", "no such model directory"),
        ("params.yaml", "must be a model directory, not a file"),
    ],
)
def test_base_stage_rejects_bad_models(tmp_path, model, message):
    params = params_file(tmp_path, f"base:\n  model: {model}\n")
    result = run_stage(
        "base",
        "--params",
        params,
        "--out",
        str(tmp_path / "m0"),
        "--metrics",
        str(tmp_path / "base.json"),
        cwd=ROOT,
    )
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
