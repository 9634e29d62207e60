"""srlm/core/stage.py: a stage's declaration gives its command line, reads, writes and, above
all, the same fingerprints the stages computed by hand before (else every artifact changes)."""

import hashlib
import json

import polars as pl
import pytest

from srlm.core.artifacts import ArtifactError, read_manifest, write_artifact
from srlm.core.params import as_dict, load_params
from srlm.core.schemas import ArtifactSchemaError
from srlm.core.stage import StageSpec, artifact, fingerprint_parts, model, text
from srlm.loop.judge import judge_model, sampling_params
from tests.helpers import ROOT, eft_frame, pairs_frame, stage_module

# Params files: the defaults, the paper's profile, and two sets of non-default values that
# reach every special case (external judge, anchored and length-controlled pairs, AlpacaEval
# from the hub and from a file, the renamed prompts.fewshot_from_seed).
VARIANTS = {
    "default": None,
    "paper": ROOT / "profiles" / "paper.yaml",
    "a": "judge:\n  model: data/models/judge\n  scoring: expected\n  samples: 5\n"
    "pairs:\n  mode: anchored\n  min_margin: 0.5\nprompts:\n  fewshot_from_seed: 3\n"
    "candidates:\n  n: 2\nevaluation:\n  alpaca_eval: hf://tatsu-lab/alpaca_eval\n",
    "b": "pairs:\n  mode: length_controlled\n  length_epsilon: 0.25\n"
    "evaluation:\n  alpaca_eval: data/alpaca.json\n  mt_bench_limit: 3\n"
    "  alpaca_eval_datasets: []\nifeval:\n  limit: 0\nengine:\n  backend: fake\n"
    "monitors:\n  consistency_sample: 4\n",
}
# sha256[:16] of {params, inputs (paths), extra} as the stage scripts of commit f5e0454 built
# them, computed with that commit's srlm (old key `fewshot_seed`) for the same values.
GOLDEN = {
    "default": {
        "prompts": "fee8022c7dbd4e70",
        "candidates": "360357b09099d939",
        "judgments": "e79abc62827a7049",
        "anchors": "9391d56e3db0e183",
        "pairs": "4250bf55f764b790",
        "seed": "c91925d95c2b7f10",
        "eval_prompts": "b637d4a76dc2e81c",
        "answers": "bba2452ed2e7fea2",
        "ifeval": "6cecc4bc18e1022f",
        "evaluate_judge": "4f6d054642848117",
        "compare": "e5c8ce9f81f28c13",
        "monitors": "54fda0207c1fcc81",
    },
    "paper": {
        "prompts": "b70d0414eb4faa78",
        "candidates": "c0befcec616fedbc",
        "judgments": "13c91c227a6c15d1",
        "anchors": "fc51cac93c0dc585",
        "pairs": "4250bf55f764b790",
        "seed": "d436edf1d04d638d",
        "eval_prompts": "22270759884b3e04",
        "answers": "e196c5edecf23b02",
        "ifeval": "82762ecbd1ff6b60",
        "evaluate_judge": "005ce8a4301f08e1",
        "compare": "622a40d8424a94ae",
        "monitors": "fe95f4fad8695271",
    },
    "a": {
        "prompts": "103ba5f538c142e2",
        "candidates": "cee4eb4edb4c88f8",
        "judgments": "f342e1e880f632ae",
        "anchors": "e0298ee8d9fb1abe",
        "pairs": "48b23587dd3792f0",
        "seed": "ee6e47831f15eb3f",
        "eval_prompts": "305ca6e0efd21b86",
        "answers": "bba2452ed2e7fea2",
        "ifeval": "6cecc4bc18e1022f",
        "evaluate_judge": "d5515e1ba63ddd49",
        "compare": "e5c8ce9f81f28c13",
        "monitors": "82b932a9bb508050",
    },
    "b": {
        "prompts": "eec28da4c81b96f3",
        "candidates": "c3cccf6228a351fd",
        "judgments": "12e99f3d209f58ed",
        "anchors": "5b1dc94cfa5b345c",
        "pairs": "0e581e195ba6d042",
        "seed": "8cfe56002c7cc240",
        "eval_prompts": "57023ba6369f9e78",
        "answers": "ae1319bf1b80d5e8",
        "ifeval": "0de6627e128bd105",
        "evaluate_judge": "a6cf898f59588387",
        "compare": "929325c26e2ba0b3",
        "monitors": "3205a93187476757",
    },
}
IT, M1 = ["--iteration", "m2"], ["--model", "data/models/m1"]
ARGV = {  # each stage's command line, as dvc.yaml's for m2 (the same paths the golden used)
    "prompts": [
        *IT,
        *M1,
        "--ift",
        "data/seed/ift",
        "--eft-eval",
        "data/seed/eft_eval",
        "--eval-prompts",
        "data/eval/prompts",
        "--out",
        "o",
        "--dropped",
        "d",
        "--metrics",
        "m",
    ],
    "candidates": [*IT, *M1, "--prompts", "data/m2/prompts", "--out", "o", "--metrics", "m"],
    "judgments": [
        *IT,
        *M1,
        "--candidates",
        "data/m2/candidates",
        "--out",
        "data/m2/judgments",
        "--scores",
        "s",
        "--metrics",
        "m",
    ],
    "anchors": [
        *IT,
        "--anchor-model",
        "data/models/m1x",
        *M1,
        "--prompts",
        "data/m2/prompts",
        "--candidates",
        "data/m2/candidates",
        "--scores",
        "data/m2/scores",
        "--out",
        "o",
    ],
    "pairs": [
        "--candidates",
        "data/m2/candidates",
        "--scores",
        "data/m2/scores",
        "--anchors",
        "data/m2/anchors",
        "--out",
        "o",
        "--metrics",
        "m",
    ],
    "seed": [
        "--source",
        "srlm/seed_data/train.trees.jsonl",
        "--source",
        "data/raw/oasst/a.jsonl",
        "--eval-source",
        "data/raw/oasst/v.jsonl",
        "--decontaminate",
        "data/raw/mt_bench/question.jsonl",
        "--ift",
        "i",
        "--eft",
        "e",
        "--eft-eval",
        "v",
        "--metrics",
        "m",
    ],
    "eval_prompts": [
        "--references",
        "data/raw/oasst/v.jsonl",
        "--mt-bench",
        "data/raw/mt_bench/question.jsonl",
        "--mt-bench-references",
        "data/raw/mt_bench/ref.jsonl",
        "--out",
        "o",
        "--metrics",
        "m",
    ],
    "answers": [*M1, "--prompts", "data/m2/prompts", "--out", "o", "--metrics", "m"],
    "ifeval": [
        *M1,
        "--data",
        "data/raw/ifeval/input_data.jsonl",
        "--out",
        "o",
        "--metrics",
        "m",
        "--prompts-table",
        "p",
        "--instructions-table",
        "i",
    ],
    "evaluate_judge": [*M1, "--eft-eval", "data/seed/eft_eval", "--out", "o", "--metrics", "m"],
    "compare": [
        "--prompts",
        "data/m2/prompts",
        "--answers",
        "data/eval/m2/answers",
        "--name",
        "m2",
        "--opponent-answers",
        "data/eval/m1/answers",
        "--opponent-name",
        "m1",
        "--judge-outputs",
        "j",
        "--opponent-judge-outputs",
        "k",
        "--out",
        "o",
        "--metrics",
        "m",
    ],
    "monitors": [
        *IT,
        *M1,
        "--candidates",
        "data/m2/candidates",
        "--judgments",
        "j",
        "--scores",
        "s",
        "--pairs",
        "p",
        "--prompts",
        "q",
        "--answers",
        "a",
        "--m1-answers",
        "b",
        "--out",
        "o",
        "--metrics",
        "m",
    ],
}


def old_payload(stage, params, a):
    """(params, inputs, extra) of each stage's fingerprint, copied from the stage scripts as
    they were (commit f5e0454) with `a` their parsed flags."""
    e = as_dict(params.engine)
    if stage == "prompts":  # the key was `fewshot_seed` then
        prompts = {
            ("fewshot_seed" if k == "fewshot_from_seed" else k): v
            for k, v in as_dict(params.prompts).items()
        }
        inputs = [a.model, a.ift, a.eft_eval, *([a.eval_prompts] if a.eval_prompts else [])]
        return {"prompts": prompts, "engine": e, "iteration": a.iteration}, inputs, {}
    if stage == "candidates":
        return (
            {"candidates": as_dict(params.candidates), "engine": e, "iteration": a.iteration},
            [a.model, a.prompts],
            {},
        )
    if stage == "judgments":
        return (
            {"judge": sampling_params(params.judge), "engine": e, "iteration": a.iteration},
            [judge_model(params.judge, a.model), a.candidates],
            {},
        )
    if stage == "anchors":
        anchored = params.pairs.mode == "anchored"
        return (
            {
                "anchored": anchored,
                "candidates": as_dict(params.candidates),
                "judge": sampling_params(params.judge),
                "scoring": params.judge.scoring,
                "engine": e,
                "iteration": a.iteration,
            },
            [a.anchor_model, judge_model(params.judge, a.model), a.prompts, a.candidates, a.scores]
            if anchored
            else [a.prompts],
            {},
        )
    if stage == "pairs":
        cfg = params.pairs
        fp = {"min_margin": cfg.min_margin} if cfg.min_margin else {}
        if cfg.mode != "max_min":
            fp.update(mode=cfg.mode, length_epsilon=cfg.length_epsilon)
        return fp, [a.candidates, a.scores, *([a.anchors] if cfg.mode == "anchored" else [])], {}
    if stage == "seed":
        specs = [
            *a.source,
            *a.eval_source,
            *a.decontaminate,
            *filter(None, [params.evaluation.alpaca_eval]),
        ]
        return (
            as_dict(params.seed),
            [s for s in specs if not s.startswith("hf://")],
            {"remote": [s for s in specs if s.startswith("hf://")]},
        )
    if stage == "eval_prompts":
        cfg = params.evaluation
        specs = [
            *([cfg.alpaca_eval] if cfg.alpaca_eval else []),
            *a.references,
            *a.mt_bench,
            *a.prompts,
            *([a.mt_bench_references] if a.mt_bench_references else []),
        ]
        limits = {
            "reference": cfg.reference_limit,
            "mt_bench": cfg.mt_bench_limit,
            "prompts": cfg.prompts_limit,
        }
        return (
            {"limits": limits, "datasets": cfg.alpaca_eval_datasets, "seed": cfg.random_seed},
            [s for s in specs if not s.startswith("hf://")],
            {"remote": [s for s in specs if s.startswith("hf://")]},
        )
    if stage == "answers":
        cfg = params.evaluation
        return (
            {"max_new_tokens": cfg.max_new_tokens, "shard_size": cfg.shard_size, "engine": e},
            [a.model, a.prompts],
            {},
        )
    if stage == "ifeval":
        return (
            {
                "ifeval": as_dict(params.ifeval),
                "shard_size": params.evaluation.shard_size,
                "engine": e,
            },
            [a.model, a.data],
            {},
        )
    if stage == "evaluate_judge":
        return (
            {
                "judge": sampling_params(params.judge),
                "engine": e,
                "shard_size": params.evaluation.shard_size,
            },
            [a.model, a.eft_eval],
            {},
        )
    if stage == "compare":
        inputs = (
            [a.prompts, a.answers] if a.reference else [a.prompts, a.answers, a.opponent_answers]
        )
        return {"evaluator": as_dict(params.evaluator), "engine": e}, inputs, {}
    if stage == "monitors":
        return (
            {
                "judge": sampling_params(params.judge),
                "engine": e,
                "monitors": as_dict(params.monitors),
                "iteration": a.iteration,
            },
            [a.model, a.candidates],
            {},
        )
    raise KeyError(stage)


def digest(parts) -> str:
    params, inputs, extra = parts
    blob = json.dumps(
        {"params": params, "inputs": inputs, "extra": extra}, sort_keys=True, default=str
    ).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@pytest.fixture(scope="module")
def params_of(tmp_path_factory):
    folder = tmp_path_factory.mktemp("variants")
    paths = {}
    for name, value in VARIANTS.items():
        if value is None or not isinstance(value, str):
            paths[name] = value or ROOT / "params.yaml"
        else:
            paths[name] = folder / f"{name}.yaml"
            paths[name].write_text(value)
    return {name: load_params(path) for name, path in paths.items()}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("stage", sorted(ARGV))
def test_declared_fingerprints_are_the_fingerprints_of_before(stage, variant, params_of):
    spec = stage_module(stage).SPEC
    params, args = params_of[variant], spec.parser().parse_args(ARGV[stage])
    parts = fingerprint_parts(spec, params, args)
    assert parts == old_payload(stage, params, args)
    assert digest(parts) == GOLDEN[variant][stage]


@pytest.mark.parametrize(
    "argv",
    [
        [
            "--prompts",
            "p",
            "--answers",
            "a",
            "--name",
            "m2",
            "--reference",
            "--out",
            "o",
            "--metrics",
            "m",
        ],
    ],
)
def test_reference_comparisons_keep_their_fingerprint(argv, params_of):
    spec = stage_module("compare").SPEC
    args = spec.parser().parse_args(argv)
    parts = fingerprint_parts(spec, params_of["default"], args)
    assert parts == old_payload("compare", params_of["default"], args)
    assert parts[1] == ["p", "a"]


def test_prompts_without_eval_prompts_leave_them_out_of_the_inputs(params_of):
    spec = stage_module("prompts").SPEC
    argv = [a for a in ARGV["prompts"] if a not in ("--eval-prompts", "data/eval/prompts")]
    args = spec.parser().parse_args(argv)
    assert args.eval_prompts is None
    assert fingerprint_parts(spec, params_of["default"], args)[1] == [
        "data/models/m1",
        "data/seed/ift",
        "data/seed/eft_eval",
    ]


def test_unhashed_and_renamed_keys_name_real_params():
    """A typo in `unhashed` or `hashed_as` would silently hash a key: each must exist."""
    for script in (ROOT / "stages").glob("*.py"):
        spec = stage_module(script.stem).SPEC
        for entry in (*spec.unhashed, *spec.hashed_as):
            group, key = entry.split(".")
            assert group in spec.params, f"{script.stem}: {entry} is not in its params"
            assert key in as_dict(getattr(load_params(ROOT / "params.yaml"), group)), entry


SPEC = StageSpec(
    name="demo",
    doc="A demo stage.\n\nMore text.",
    options={"iteration": text("the iteration")},
    inputs={
        "model": model(),
        "eft": artifact("seed_eft"),
        "extra": artifact("pairs", required=False, hashed=False),
    },
    params=("candidates", "evaluation.shard_size"),
    unhashed=("candidates.shard_size",),
    outputs={"out": artifact("pairs")},
    metrics=("metrics",),
)


def test_the_command_line_follows_from_the_declaration(tmp_path):
    parser = SPEC.parser()
    assert parser.description == "A demo stage."
    args = parser.parse_args(
        ["--iteration", "m2", "--model", "M", "--eft", "E", "--out", "O", "--metrics", "J"]
    )
    assert (args.params, args.model, args.extra, args.out) == ("params.yaml", "M", None, "O")
    with pytest.raises(SystemExit):  # a required input is missing
        parser.parse_args(["--iteration", "m2", "--model", "M", "--out", "O", "--metrics", "J"])


def test_the_rule_hashes_declared_params_and_inputs_only():
    args = SPEC.parser().parse_args(
        [
            "--iteration",
            "m3",
            "--model",
            "M",
            "--eft",
            "E",
            "--extra",
            "X",
            "--out",
            "O",
            "--metrics",
            "J",
        ]
    )
    payload, inputs, extra = fingerprint_parts(SPEC, load_params(ROOT / "params.yaml"), args)
    candidates = as_dict(load_params(ROOT / "params.yaml").candidates)
    del candidates["shard_size"]
    assert payload == {"candidates": candidates, "shard_size": 256, "iteration": "m3"}
    assert (inputs, extra) == (["M", "E"], {})  # --extra is read, not hashed


def test_reads_and_writes_check_the_declared_schemas(tmp_path):
    write_artifact(eft_frame(), tmp_path / "eft", "seed_eft", "fp")
    (tmp_path / "params.yaml").write_text("")
    stage = SPEC.start(
        [
            "--params",
            str(tmp_path / "params.yaml"),
            "--iteration",
            "m2",
            "--model",
            "M",
            "--eft",
            str(tmp_path / "eft"),
            "--extra",
            str(tmp_path / "eft"),
            "--out",
            str(tmp_path / "out"),
            "--metrics",
            str(tmp_path / "m.json"),
        ]
    )
    assert stage.read("eft").height == 3
    with pytest.raises(ArtifactError, match="is a 'seed_eft' artifact, expected 'pairs'"):
        stage.read("extra")  # declared as pairs
    stage.write("out", pairs_frame(2), "fp1")
    assert read_manifest(tmp_path / "out")["fingerprint"] == "fp1"
    with pytest.raises(ArtifactSchemaError):
        stage.write("out", pl.DataFrame({"x": [1]}), "fp2")
    stage.write_metrics({"n": 2})
    assert json.loads((tmp_path / "m.json").read_text()) == {"n": 2}
