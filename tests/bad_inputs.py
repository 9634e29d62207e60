"""The world of tests/test_bad_inputs.py: good artifacts, broken copies of them, broken
model directories, and the commands that feed each broken input to a stage or the CLI.

A case is a function `(world, tmp) -> (command, names)`: `command` is `["stage", script,
*args]` or `["cli", *args]`, `names` the strings (file, key) its one error line must hold.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import polars as pl

from srlm.core.artifacts import write_artifact
from srlm.core.schemas import artifact_frame
from tests.helpers import ROOT, run_stage

EMBEDDED = ROOT / "srlm" / "seed_data"
FAKE = "engine:\n  backend: fake\n"
REAL = "engine:\n  backend: transformers\n  precision: fp32\n"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "srlm.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every regular file under `root` (symlinks are not followed)."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def copy_artifact(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def edit_manifest(directory: Path, change) -> Path:
    path = directory / "_manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(change(manifest) if callable(change) else change)
    return directory


def drop(key):
    return lambda manifest: json.dumps({k: v for k, v in manifest.items() if k != key})


def model_variant(source: Path, target: Path, replace: dict[str, bytes | None]) -> Path:
    """`source` as symlinks, but files in `replace` rewritten (None: left out)."""
    target.mkdir()
    for path in source.iterdir():
        if path.name not in replace:
            (target / path.name).symlink_to(path)
    for name, content in replace.items():
        if content is not None:
            (target / name).write_bytes(content)
    return target


def build_world(root: Path, tiny_model_dir: Path) -> SimpleNamespace:
    """Good artifacts, broken copies of them, broken models, all under `root`."""
    w = SimpleNamespace(root=root, model=tiny_model_dir)
    seed = root / "seed"
    params = root / "seed-params.yaml"
    params.write_text("seed:\n  ift_size: 10\n  eft_size: 12\n  eft_eval_size: 6\n")
    result = run_stage(
        "seed",
        "--params",
        str(params),
        "--source",
        str(EMBEDDED / "train.trees.jsonl"),
        "--eval-source",
        str(EMBEDDED / "eval.trees.jsonl"),
        "--ift",
        str(seed / "ift"),
        "--eft",
        str(seed / "eft"),
        "--eft-eval",
        str(seed / "eft-eval"),
        "--metrics",
        str(root / "seed.json"),
    )
    assert result.returncode == 0, result.stderr
    w.ift, w.eft, w.eft_eval = seed / "ift", seed / "eft", seed / "eft-eval"
    w.prompts = write_artifact(
        artifact_frame(
            "eval_prompts",
            [
                {"prompt_id": f"p{i}", "prompt": f"Name {i} fruits.", "source": "test"}
                for i in range(3)
            ],
        ),
        root / "eval_prompts",
        "eval_prompts",
        "fp",
    )
    w.pairs = write_artifact(
        artifact_frame(
            "pairs",
            [
                {
                    "prompt_id": "p0",
                    "prompt": "Hi?",
                    "chosen": "Hello.",
                    "rejected": "No.",
                    "chosen_score": 5.0,
                    "rejected_score": 1.0,
                    "margin": 4.0,
                }
            ],
        ),
        root / "pairs",
        "pairs",
        "fp",
    )
    broken = root / "broken"
    shard = (w.ift / "part-00000.parquet").read_bytes()
    w.truncated = copy_artifact(w.ift, broken / "truncated")
    (w.truncated / "part-00000.parquet").write_bytes(shard[: len(shard) // 2])
    w.empty_shard = copy_artifact(w.ift, broken / "empty_shard")
    (w.empty_shard / "part-00000.parquet").write_bytes(b"")
    w.garbage = copy_artifact(w.ift, broken / "garbage")
    (w.garbage / "part-00000.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 4 + b"PAR1")
    frame = pl.read_parquet(w.ift / "part-00000.parquet")
    w.extra = copy_artifact(w.ift, broken / "extra")
    frame.with_columns(extra=pl.lit(1)).write_parquet(w.extra / "part-00000.parquet")
    w.extra2 = copy_artifact(w.ift, broken / "extra2")
    frame.head(1).with_columns(extra=pl.lit(1)).write_parquet(w.extra2 / "part-00001.parquet")
    w.no_rows = edit_manifest(copy_artifact(w.ift, broken / "no_rows"), drop("rows"))
    w.no_fp = edit_manifest(copy_artifact(w.ift, broken / "no_fp"), drop("fingerprint"))
    w.list_manifest = edit_manifest(copy_artifact(w.ift, broken / "list_manifest"), "[1, 2]")
    w.bad_json = edit_manifest(copy_artifact(w.ift, broken / "bad_json"), '{"schema": ')
    w.wrong_rows = edit_manifest(
        copy_artifact(w.ift, broken / "wrong_rows"), lambda m: json.dumps({**m, "rows": 99})
    )
    w.no_shards = copy_artifact(w.ift, broken / "no_shards")
    (w.no_shards / "part-00000.parquet").unlink()
    w.eval_truncated = copy_artifact(w.eft_eval, broken / "eval_truncated")
    eval_shard = w.eval_truncated / "part-00000.parquet"
    eval_shard.write_bytes(eval_shard.read_bytes()[:100])
    w.empty_eval = write_artifact(
        pl.read_parquet(w.eft_eval / "part-00000.parquet").head(0),
        broken / "empty_eval",
        "seed_eft",
        "fp",
    )
    models = root / "models"
    models.mkdir()
    w.missing_model = models / "missing"
    w.empty_model = models / "empty"
    w.empty_model.mkdir()
    config = json.loads((tiny_model_dir / "config.json").read_text())
    weights = (tiny_model_dir / "model.safetensors").read_bytes()
    w.bad_config = model_variant(tiny_model_dir, models / "bad_config", {"config.json": b"{oops"})
    w.list_config = model_variant(tiny_model_dir, models / "list_config", {"config.json": b"[]"})
    w.truncated_model = model_variant(
        tiny_model_dir, models / "truncated", {"model.safetensors": weights[:1000]}
    )
    w.no_tokenizer = model_variant(
        tiny_model_dir,
        models / "no_tokenizer",
        {"tokenizer.json": None, "tokenizer_config.json": None},
    )
    w.unknown_type = model_variant(
        tiny_model_dir,
        models / "unknown_type",
        {"config.json": json.dumps({**config, "model_type": "nonesuch"}).encode()},
    )
    w.a_file = root / "a_file.txt"
    w.a_file.write_text("not a folder\n")
    return w


def params(tmp: Path, text: str) -> str:
    path = tmp / "params.yaml"
    path.write_text(text)
    return str(path)


def seed(w, tmp, text="", source=None, eval_source=None, **outputs):
    """The seed stage writing over the world's seed artifacts (they must survive)."""
    args = ["--params", params(tmp, text)]
    args += ["--source", str(source or EMBEDDED / "train.trees.jsonl")]
    args += ["--eval-source", str(eval_source or EMBEDDED / "eval.trees.jsonl")]
    for name, default in (("ift", w.ift), ("eft", w.eft), ("eft-eval", w.eft_eval)):
        args += [f"--{name}", str(outputs.get(name.replace("-", "_"), default))]
    return ["stage", "seed", *args, "--metrics", str(outputs.get("metrics", tmp / "seed.json"))]


def bad_params(text, *names):
    return lambda w, tmp: (seed(w, tmp, text), ["params.yaml", *names])


def trees_with(tmp, change, line=3):
    """The embedded training trees with record `line` changed by `change(record)`."""
    lines = (EMBEDDED / "train.trees.jsonl").read_text().splitlines()
    record = json.loads(lines[line - 1])
    change(record)
    lines[line - 1] = json.dumps(record)
    path = tmp / "trees.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def first_reply(record):
    return record["prompt"]["replies"][0]


def bad_trees(change, *names):
    def case(w, tmp):
        path = trees_with(tmp, change)
        return seed(w, tmp, source=path), [f"{path}:3", *names]

    return case


def plain(tmp, rows, name="plain.jsonl"):
    path = tmp / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def bad_plain(rows, *names, line=None):
    def case(w, tmp):
        path = plain(tmp, rows)
        where = f"{path}:{line}" if line else str(path)
        return seed(w, tmp, source=path), [where, *names]

    return case


GOOD = [
    {"prompt": f"Question number {i} about cooking?", "response": f"Answer {i}.", "score": i % 3}
    for i in range(6)
]


def reads(artifact, *names, schema_of="ift"):
    """A stage reading a broken artifact: `prompts` (its --ift), or `evaluate_judge`."""

    def case(w, tmp):
        broken = getattr(w, artifact)
        if schema_of == "eft_eval":
            cmd = [
                "stage",
                "evaluate_judge",
                "--params",
                params(tmp, FAKE),
                "--model",
                str(w.model),
                "--eft-eval",
                str(broken),
                "--out",
                str(tmp / "judge"),
                "--metrics",
                str(tmp / "judge.json"),
            ]
        else:
            cmd = [
                "stage",
                "prompts",
                "--params",
                params(tmp, FAKE),
                "--iteration",
                "m2",
                "--model",
                str(w.model),
                "--ift",
                str(broken),
                "--eft-eval",
                str(w.eft_eval),
                "--out",
                str(tmp / "prompts"),
                "--dropped",
                str(tmp / "prompts_dropped"),
                "--metrics",
                str(tmp / "prompts.json"),
            ]
        return cmd, [str(broken), *names]

    return case


def cli(command, artifact, *names, other=None):
    def case(w, tmp):
        broken = getattr(w, artifact)
        args = [command, str(broken)]
        if command == "diff":
            args = ["diff", str(getattr(w, other or "ift")), str(broken)]
        if command == "export":
            args += ["--format", "jsonl", "--out", str(tmp / "out.jsonl")]
        return ["cli", *args], [f"srlm {command}", str(broken), *names]

    return case


def model_case(stage, model, *names, text=REAL):
    def case(w, tmp):
        path = getattr(w, model)
        common = ["--params", params(tmp, text)]
        if stage == "answers":
            cmd = [
                *common,
                "--model",
                str(path),
                "--prompts",
                str(w.prompts),
                "--out",
                str(tmp / "answers"),
                "--metrics",
                str(tmp / "answers.json"),
            ]
        elif stage == "evaluate_judge":
            cmd = [
                *common,
                "--model",
                str(path),
                "--eft-eval",
                str(w.eft_eval),
                "--out",
                str(tmp / "judge"),
                "--metrics",
                str(tmp / "judge.json"),
            ]
        elif stage == "candidates":
            cmd = [
                *common,
                "--iteration",
                "m2",
                "--model",
                str(path),
                "--prompts",
                str(w.prompts),
                "--out",
                str(tmp / "cands"),
                "--metrics",
                str(tmp / "c.json"),
            ]
        elif stage == "sft":
            cmd = [
                *common,
                "--base",
                str(path),
                "--ift",
                str(w.ift),
                "--eft",
                str(w.eft),
                "--out",
                str(tmp / "m1"),
                "--metrics",
                str(tmp / "sft.json"),
                "--loss",
                str(tmp / "loss.csv"),
            ]
        else:  # dpo
            cmd = [
                *common,
                "--base",
                str(path),
                "--pairs",
                str(w.pairs),
                "--out",
                str(tmp / "m2"),
                "--metrics",
                str(tmp / "dpo.json"),
                "--log",
                str(tmp / "l.csv"),
            ]
        return ["stage", stage, *cmd], [str(path), *names]

    return case


def not_a_folder(w, tmp):
    out = w.a_file / "ift"
    return seed(w, tmp, ift=out, eft=tmp / "eft", eft_eval=tmp / "eft-eval"), [
        "error: seed:",
        f"{w.a_file}: is a file, but a folder is needed",
    ]


def disk_full(w, tmp):
    return seed(
        w, tmp, ift=tmp / "ift", eft=tmp / "eft", eft_eval=tmp / "eft-eval", metrics="/dev/full"
    ), ["/dev/full", "No space left on device"]


def empty_eval_set(w, tmp):
    cmd = [
        "stage",
        "evaluate_judge",
        "--params",
        params(tmp, FAKE),
        "--model",
        str(w.model),
        "--eft-eval",
        str(w.empty_eval),
        "--out",
        str(tmp / "j"),
        "--metrics",
        str(tmp / "j.json"),
    ]
    return cmd, [str(w.empty_eval), "no replies to judge"]


def no_records(w, tmp):
    path = tmp / "empty.jsonl"
    path.write_text("\n")
    return seed(w, tmp, source=path), [str(path), "no records"]


def held_out_all_deleted(w, tmp):
    lines = (EMBEDDED / "eval.trees.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        for reply in record["prompt"]["replies"]:
            reply["deleted"] = True
    path = plain(tmp, records, "eval.jsonl")
    return seed(w, tmp, eval_source=path), [
        str(path),
        "no usable held-out replies",
        "reply_deleted",
    ]


def context_too_long(w, tmp):
    text = REAL + "judge:\n  max_new_tokens: 5000\n"
    return model_case("evaluate_judge", "model", text=text)(w, tmp)[0], [
        "judge.max_new_tokens",
        "2048",
        str(w.model),
    ]


# --- Issue 24, items 4 and 6: inputs that were accepted, and named checks that were a
# catch-all line. Loop artifacts of two iterations, built by the stages themselves (the fake
# engine) so that their manifests' lineage is the stages' own; built once, on first use,
# under the world's root (the cases' snapshot covers them).


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr


def loop_world(w) -> SimpleNamespace:
    """`w.loop`: m2 and m3 prompts, candidates, judgments and scores, m2's anchors built in
    mode max_min (empty), copies with their lineage removed (as built before it was recorded),
    a judgments copy with 3 score probabilities per row and a 2-shard IFT with one deleted."""
    if getattr(w, "loop", None) is not None:
        return w.loop
    from srlm.core.lineage import lineage_meta

    root = w.root / "loop"
    loop = SimpleNamespace(root=root, model=root / "models" / "m1", params=root / "fake.yaml")
    loop.model.mkdir(parents=True)
    (loop.model / "config.json").write_text('{"name": "m1"}')  # the fake engine reads nothing
    loop.params.write_text(FAKE)
    for it in ("m2", "m3"):
        rows = [
            {
                "prompt_id": f"{it}-p{i}",
                "prompt": f"Name {i} rivers.",
                "iteration": it,
                "generator": "m1",
                "fewshot_ids": [],
            }
            for i in range(3)
        ]
        write_artifact(
            artifact_frame("prompts", rows),
            root / it / "prompts",
            "prompts",
            f"prompts-{it}",
            lineage_meta(it),
        )
        common = ["--params", str(loop.params), "--iteration", it, "--model", str(loop.model)]
        _ok(
            run_stage(
                "candidates",
                *common,
                "--prompts",
                str(root / it / "prompts"),
                "--out",
                str(root / it / "candidates"),
                "--metrics",
                str(root / it / "candidates.json"),
            )
        )
        _ok(
            run_stage(
                "judgments",
                *common,
                "--candidates",
                str(root / it / "candidates"),
                "--out",
                str(root / it / "judgments"),
                "--scores",
                str(root / it / "scores"),
                "--metrics",
                str(root / it / "judgments.json"),
            )
        )
    m2 = root / "m2"
    _ok(
        run_stage(
            "anchors",
            "--params",
            str(loop.params),
            "--iteration",
            "m2",
            "--anchor-model",
            str(loop.model),
            "--model",
            str(loop.model),
            "--prompts",
            str(m2 / "prompts"),
            "--candidates",
            str(m2 / "candidates"),
            "--scores",
            str(m2 / "scores"),
            "--out",
            str(m2 / "anchors"),
        )
    )
    unrecorded = drop("lineage")
    loop.old_scores = edit_manifest(
        copy_artifact(root / "m3" / "scores", root / "old" / "scores"), unrecorded
    )
    loop.old_anchors = edit_manifest(
        copy_artifact(m2 / "anchors", root / "old" / "anchors"), unrecorded
    )
    loop.short_probs = copy_artifact(m2 / "judgments", root / "broken" / "short_probs")
    for shard in loop.short_probs.glob("part-*.parquet"):
        pl.read_parquet(shard).with_columns(pl.col("score_probs").list.head(3)).write_parquet(shard)
    frame = pl.read_parquet(w.ift / "part-00000.parquet")
    loop.half = write_artifact(
        frame, root / "broken" / "half", "seed_ift", "fp", rows_per_shard=-(-frame.height // 2)
    )
    (loop.half / "part-00001.parquet").unlink()
    w.loop = loop
    return loop


def pairs_case(
    candidates: str, scores: str, *names, anchors: str | None = None, named=("candidates", "scores")
):
    """The pairs stage on `root/<candidates>` and `root/<scores>` of the loop world (an
    attribute of it when no `/` in the name), anchored when `anchors` is given; the error
    line must name the inputs `named` (and `names`)."""

    def case(w, tmp):
        loop = loop_world(w)
        given = {"candidates": candidates, "scores": scores, "anchors": anchors}
        where = {
            role: getattr(loop, n) if "/" not in n else loop.root / n
            for role, n in given.items()
            if n
        }
        params = str(loop.params)
        if anchors:
            params = str(tmp / "anchored.yaml")
            Path(params).write_text(FAKE + "pairs:\n  mode: anchored\n")
        args = [a for role, path in where.items() for a in (f"--{role}", str(path))]
        cmd = [
            "stage",
            "pairs",
            "--params",
            params,
            *args,
            "--out",
            str(tmp / "pairs"),
            "--metrics",
            str(tmp / "pairs.json"),
        ]
        return cmd, [*(str(where[role]) for role in named), *names]

    return case


def judgments_other_iteration(w, tmp):
    loop = loop_world(w)
    candidates = loop.root / "m3" / "candidates"
    return [
        "stage",
        "judgments",
        "--params",
        str(loop.params),
        "--iteration",
        "m2",
        "--model",
        str(loop.model),
        "--candidates",
        str(candidates),
        "--out",
        str(tmp / "judgments"),
        "--scores",
        str(tmp / "scores"),
        "--metrics",
        str(tmp / "j.json"),
    ], [str(candidates), "'iteration'", "--iteration"]


def anchors_other_iteration(w, tmp):
    loop = loop_world(w)
    params = tmp / "anchored.yaml"
    params.write_text(FAKE + "pairs:\n  mode: anchored\n")
    m2, m3 = loop.root / "m2", loop.root / "m3"
    return [
        "stage",
        "anchors",
        "--params",
        str(params),
        "--iteration",
        "m2",
        "--anchor-model",
        str(loop.model),
        "--model",
        str(loop.model),
        "--prompts",
        str(m2 / "prompts"),
        "--candidates",
        str(m3 / "candidates"),
        "--scores",
        str(m3 / "scores"),
        "--out",
        str(tmp / "anchors"),
    ], [str(m3 / "candidates"), "'iteration'", "--iteration"]


def loop_cli(command: str, attribute: str, *names, other=None):
    """`srlm <command>` on an artifact of the loop world (`diff`: against `other` of `w`)."""

    def case(w, tmp):
        path = getattr(loop_world(w), attribute)
        args = [command, str(getattr(w, other)), str(path)] if other else [command, str(path)]
        return ["cli", *args], [f"srlm {command}", str(path), *names]

    return case


def report_judge(text: str, *names):
    """`srlm report` on a metrics folder whose m1/judge.json holds `text`."""

    def case(w, tmp):
        path = tmp / "metrics" / "m1" / "judge.json"
        path.parent.mkdir(parents=True)
        path.write_text(text)
        return ["cli", "report", "--metrics-dir", str(tmp / "metrics"), "--model", "m1"], [
            "srlm report",
            str(path),
            *names,
        ]

    return case


def jsonl_line(tmp: Path, line: str, name="seed.jsonl") -> Path:
    """A plain seed file: two good records, then `line` (line 3)."""
    path = tmp / name
    good = "".join(json.dumps(r) + "\n" for r in GOOD[:2])
    path.write_text(good + line + "\n")
    return path


def bad_line(line: str, *names):
    def case(w, tmp):
        path = jsonl_line(tmp, line)
        return seed(w, tmp, source=path), [f"{path}:3", *names]

    return case


ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
