"""dvc.yaml lists, for each stage, exactly the srlm modules and prompt files its script uses,
and agrees with the stage's declaration (its `SPEC`): params, inputs, outputs, metrics."""

import re
import shlex

import pytest
import yaml

from srlm.core.fingerprints import code_files
from srlm.core.params import Params
from srlm.core.stage import SWITCH, TEXT
from tests.helpers import ROOT, stage_module

pytestmark = pytest.mark.integration

# Prompt files read by a module: a stage importing the module depends on the file too.
PROMPT_FILES = {
    "srlm/loop/judge_prompt.py": "srlm/prompts/judge.txt",
    "srlm/loop/selfinstruct.py": "srlm/prompts/self_instruct.txt",
    "srlm/evaluation/comparisons.py": "srlm/prompts/compare.txt",
    "srlm/tools/view.py": "srlm/tools/view_templates/iteration.html.j2",
}

# The profile params.yaml names (`profile:`); every stage depends on it.
PROFILE = yaml.safe_load((ROOT / "params.yaml").read_text())["profile"]


def srlm_code(script: str) -> set[str]:
    """The srlm files (modules and prompt files) a stage script runs, relative to the root."""
    return {
        str(f.relative_to(ROOT))
        for f in code_files(ROOT / script)
        if f.is_relative_to(ROOT / "srlm")
    }


def test_code_files_follow_imports_to_prompt_files():
    for module, prompt in PROMPT_FILES.items():
        assert prompt in srlm_code(module)
    assert "srlm/prompts/judge.txt" not in srlm_code("srlm/loop/pairs.py")


def stages() -> dict[str, dict]:
    """Every stage as DVC resolves it (foreach unrolled): cmd, deps, outs, params groups."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        resolved = {}
        for stage in repo.index.stages:
            resolved[stage.addressing] = {
                "cmd": stage.cmd,
                "deps": [d.def_path for d in stage.deps if not hasattr(d, "params")],
                "params": [p for d in stage.deps if hasattr(d, "params") for p in d.params],
                "outs": [o.def_path for o in stage.outs if not (o.metric or o.plot)],
                "metrics": [o.def_path for o in stage.outs if o.metric],
                "plots": [o.def_path for o in stage.outs if o.plot],
            }
    return resolved


def test_the_loop_is_unrolled_per_iteration():
    names = set(stages())
    iterations = yaml.safe_load((ROOT / "params.yaml").read_text())["iterations"]
    for key in iterations:
        for step in ("prompts", "candidates", "judgments", "pairs", "dpo"):
            assert f"{step}@{key}" in names


def test_each_stage_depends_on_exactly_the_code_it_uses():
    """Every srlm file a stage's script imports is a dep (itself or its layer directory), and
    every srlm dep listed is used: no stage reruns for code it never runs."""
    for name, stage in stages().items():
        script = re.search(r"python (stages/\S+\.py)", stage["cmd"]).group(1)
        deps = set(stage["deps"])
        assert script in deps, f"{name}: its script {script} is not a dep"
        used = srlm_code(script)
        listed = {d for d in deps if d.startswith("srlm/") and not d.startswith("srlm/seed_data/")}
        uncovered = {f for f in used if not any(f == d or f.startswith(d + "/") for d in listed)}
        assert not uncovered, f"{name}: imports {sorted(uncovered)} but does not depend on them"
        unused = {d for d in listed if not any(f == d or f.startswith(d + "/") for f in used)}
        assert not unused, f"{name}: depends on {sorted(unused)} but never imports them"


EVALUATOR_MODEL = Params().evaluator.model  # `${evaluator.model}`, a dep by params


def cmd_flags(cmd: str) -> dict[str, list[str]]:
    """The flags of a stage's command line (after `python stages/x.py`) and their values."""
    words = shlex.split(cmd)[2:]
    flags: dict[str, list[str]] = {}
    name = None
    for word in words:
        if word.startswith("--"):
            name = word[2:].replace("-", "_")
            flags.setdefault(name, [])
        else:
            assert name is not None, f"{cmd}: a value before any flag"
            flags[name].append(word)
    return flags


def test_every_stage_agrees_with_its_declaration():
    """dvc.yaml's `params:` are the stage's declared params; each declared input's path in
    `cmd` is a dep, each output's an out, each metrics or plots file a metric or a plot; the
    command gives every required flag and no undeclared one; and every data the stage reads
    comes in by a declared flag (the evaluator's model alone by params)."""
    for name, stage in stages().items():
        script = re.search(r"python stages/(\S+)\.py", stage["cmd"]).group(1)
        spec = stage_module(script).SPEC
        assert sorted(stage["params"]) == sorted(spec.params), name
        flags = cmd_flags(stage["cmd"])
        declared = spec.flags()
        assert set(flags) - {"params"} <= set(declared), f"{name}: undeclared flags"
        missing = {f for f, arg in declared.items() if arg.required and f not in spec.one_of}
        assert missing <= set(flags), f"{name}: misses {sorted(missing - set(flags))}"
        where = {
            "inputs": stage["deps"],
            "outputs": stage["outs"],
            "metrics": stage["metrics"],
            "plots": stage["plots"],
        }
        for flag, values in flags.items():
            if flag == "params" or declared[flag].kind in (TEXT, SWITCH):
                continue
            part = next(p for p in where if flag in getattr(spec, p))
            for value in values:
                assert value in where[part], f"{name}: --{flag} {value} is not in its {part}"
        given = {v for flag in spec.inputs for v in flags.get(flag, [])}
        evaluator = {EVALUATOR_MODEL} if "evaluator" in spec.params else set()
        data = {
            d
            for d in stage["deps"]
            if not d.startswith(("stages/", "srlm/")) or d.startswith("srlm/seed_data/")
        }
        # the profile params.yaml names: params (read through --params), not data
        assert PROFILE in stage["deps"], f"{name}: does not depend on the profile in use"
        data.discard(PROFILE)
        assert data - given - evaluator == set(), f"{name}: reads data no flag declares"


def test_layer_directories_are_whole_layers():
    """A directory dep is a whole layer: srlm/core, srlm/runtime, srlm/engines and
    srlm/sources only (domain modules are listed one by one, so a change to one reruns only
    the stages that use it)."""
    layers = {"srlm/core", "srlm/runtime", "srlm/engines", "srlm/sources"}
    for name, stage in stages().items():
        dirs = {d for d in stage["deps"] if d.startswith("srlm/") and (ROOT / d).is_dir()}
        assert dirs <= layers, f"{name}: {sorted(dirs)}"


@pytest.mark.parametrize("script", ["base", "sft", "pairs", "dpo", "report"])
def test_stages_that_never_generate_never_import_the_runtime(script):
    """The generation runtime (shards, workers, Ray, requests) is a layer of its own so that a
    change to it reruns only the stages that generate."""
    used = srlm_code(f"stages/{script}.py")
    assert not {f for f in used if f.startswith("srlm/runtime/")}, script
    assert not {f for f in used if f.startswith("srlm/engines/")}, script


def test_deps_exist_and_params_groups_are_known():
    groups = set(Params.__dataclass_fields__)
    for name, stage in stages().items():
        for dep in stage["deps"]:
            if not dep.startswith("data/"):
                assert (ROOT / dep).exists(), f"{name}: dep {dep} does not exist"
        for param in stage["params"]:
            group, _, key = param.partition(".")
            assert group in groups, (
                f"{name}: params group {group} is not in srlm.core.params.Params"
            )
            if key:
                fields = Params.__dataclass_fields__[group].default_factory().__dataclass_fields__
                assert key in fields, f"{name}: params key {param} does not exist"


def test_stage_outputs_feed_the_next_stage():
    all_stages = stages()
    produced = {out for s in all_stages.values() for out in s.get("outs", [])}
    for name, stage in all_stages.items():
        for dep in stage["deps"]:
            if dep.startswith("data/") and not dep.startswith("data/raw/"):
                assert dep in produced, f"{name}: {dep} is read but no stage writes it"


def test_seed_decontaminates_against_every_evaluation_file():
    """Evaluation never trains on its prompts: every file the evaluation stages read is a
    held-out or decontamination source of the seed stage."""
    all_stages = stages()
    seed_args = all_stages["seed"]["cmd"].split()
    held_out = {
        seed_args[i + 1]
        for i, a in enumerate(seed_args)
        if a in ("--eval-source", "--decontaminate")
    }
    eval_args = all_stages["eval_prompts"]["cmd"].split()
    eval_files = {
        eval_args[i + 1]
        for i, a in enumerate(eval_args)
        if a in ("--references", "--mt-bench", "--prompts")
    }
    assert eval_files and eval_files <= held_out
    # an AlpacaEval file named in params is read by both stages
    for stage in ("seed", "eval_prompts"):
        assert "evaluation.alpaca_eval" in all_stages[stage]["params"]
    # the judge evaluation reads the held-out EFT set the seed stage builds
    assert "data/seed/eft_eval" in all_stages["evaluate_judge@m1"]["deps"]


def test_the_pipeline_reads_nothing_outside_the_repository():
    """A fresh clone runs by itself: no path in dvc.yaml or params.yaml leaves the project."""
    for name in ("dvc.yaml", "params.yaml"):
        assert "../" not in (ROOT / name).read_text(), name
    for name, stage in stages().items():
        for dep in stage["deps"]:
            assert (ROOT / dep).resolve().is_relative_to(ROOT), f"{name}: {dep}"


def test_bytecode_caches_are_ignored_by_dvc():
    assert "__pycache__/" in (ROOT / ".dvcignore").read_text().splitlines()
