"""Hostile inputs: each malformed input is one `error:` line, exit status 1, nothing changed.

A table of cases, each one broken input given to a stage script or to the `srlm` CLI in a
subprocess: params (duplicate keys, values out of range, unsafe iteration names), seed files
(bad labels, NaN scores, nothing usable), artifacts (damaged shards, bad manifests), model
directories (missing, empty, damaged) and output folders that cannot be written. Every case
asserts the exit status, that stderr is exactly one line starting with `error:` (log lines,
which start with a `HH:MM:SS` timestamp, aside), that the line names the offending file or
key, and that every file that existed before is byte-identical after.
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from tests.bad_inputs import (
    EMBEDDED,
    FAKE,
    GOOD,
    bad_params,
    bad_plain,
    bad_trees,
    build_world,
    cli,
    context_too_long,
    disk_full,
    empty_eval_set,
    first_reply,
    held_out_all_deleted,
    model_case,
    no_records,
    not_a_folder,
    reads,
    run_cli,
    seed,
    snapshot,
)
from tests.helpers import run_stage

pytestmark = pytest.mark.integration

TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d ")


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_model_dir):
    """Built once for every case; each case checks that it stays byte-identical."""
    return build_world(tmp_path_factory.mktemp("world"), tiny_model_dir)


CASES = [
    # params: duplicate keys, ranges, sizes, iteration names and bases, bounds
    (
        "dup-key",
        bad_params(
            "candidates:\n  n: 4\n  temperature: 0.7\n  n: 8\n",
            "params.yaml:4",
            "duplicate key 'n'",
        ),
    ),
    ("dup-group", bad_params("judge:\n  samples: 3\njudge:\n  samples: 4\n", "'judge'")),
    ("temperature", bad_params("candidates:\n  temperature: -1\n", "candidates.temperature")),
    ("top-p", bad_params("judge:\n  top_p: 5\n", "judge.top_p")),
    ("nan", bad_params("prompts:\n  temperature: .nan\n", "prompts.temperature")),
    ("negative-size", bad_params("seed:\n  ift_size: -1\n", "seed.ift_size")),
    ("negative-batch", bad_params("sft:\n  batch_size: -3\n", "sft.batch_size")),
    ("negative-seed", bad_params("sft:\n  random_seed: -1\n", "sft.random_seed")),
    (
        "negative-fewshot",
        bad_params("prompts:\n  fewshot_from_seed: -2\n", "prompts.fewshot_from_seed"),
    ),
    ("iteration-path", bad_params("iterations:\n  ../../x: {base: m1}\n", "'../../x'")),
    ("iteration-self", bad_params("iterations:\n  m2: {base: m2}\n", "iterations.m2.base")),
    ("iteration-base", bad_params("iterations:\n  m2: {base: m9}\n", "iterations.m2.base", "'m9'")),
    ("iteration-cycle", bad_params("iterations:\n  m2: {base: m3}\n  m3: {base: m2}\n", "cycle")),
    ("candidates-n", bad_params("candidates:\n  n: 100000\n", "candidates.n", "<= 64")),
    ("judge-samples", bad_params("judge:\n  samples: 1000\n", "judge.samples")),
    ("n-generate", bad_params("prompts:\n  n_generate: 1000000000\n", "prompts.n_generate")),
    ("not-a-mapping", bad_params("- a\n- b\n", "mapping")),
    ("max-new-tokens", context_too_long),
    # seed files: labels, NaN, nothing usable
    (
        "quality-text",
        bad_trees(
            lambda r: first_reply(r)["labels"]["quality"].update(value="high"),
            "'quality' label must be a number",
        ),
    ),
    (
        "quality-no-value",
        bad_trees(lambda r: first_reply(r)["labels"].update(quality={}), "has no 'value'"),
    ),
    (
        "quality-nan",
        bad_trees(
            lambda r: first_reply(r)["labels"]["quality"].update(value=float("nan")), "finite"
        ),
    ),
    ("rank-text", bad_trees(lambda r: first_reply(r).update(rank="first"), "rank")),
    (
        "score-nan",
        bad_plain([*GOOD[:2], {**GOOD[2], "score": float("nan")}], "score", "finite", line=3),
    ),
    (
        "score-text",
        bad_plain(
            [{"prompt": "What is a good pasta?", "response": "Penne.", "quality": "ten"}],
            "score",
            "'ten'",
            line=1,
        ),
    ),
    (
        "all-non-english",
        bad_plain(
            [{**r, "lang": "de"} for r in GOOD], "no usable training replies", "reply_non_english"
        ),
    ),
    (
        "no-ranks",
        bad_plain(
            [{k: v for k, v in r.items() if k != "score"} for r in GOOD], "EFT is empty", "2+"
        ),
    ),
    (
        "prompts-too-short",
        lambda w, tmp: (
            seed(w, tmp, "seed:\n  min_prompt_chars: 5000\n  max_prompt_chars: 6000\n"),
            [str(EMBEDDED / "train.trees.jsonl"), "no usable training replies", "prompt_too_"],
        ),
    ),
    ("held-out-deleted", held_out_all_deleted),
    ("no-records", no_records),
    # artifacts read by a stage
    ("shard-truncated", reads("truncated", "part-00000.parquet", "unreadable parquet")),
    ("shard-empty", reads("empty_shard", "part-00000.parquet")),
    ("shard-garbage", reads("garbage", "part-00000.parquet")),
    ("shard-extra-column", reads("extra", "unexpected column 'extra'")),
    ("second-shard-extra", reads("extra2", "part-00001.parquet", "extra")),
    ("manifest-no-rows", reads("no_rows", "'rows'")),
    ("manifest-no-fingerprint", reads("no_fp", "'fingerprint'")),
    ("manifest-list", reads("list_manifest", "JSON object")),
    ("manifest-bad-json", reads("bad_json", "unreadable manifest")),
    ("manifest-wrong-rows", reads("wrong_rows", "manifest says 99")),
    ("no-shards", reads("no_shards", "no part-*.parquet")),
    ("eval-shard-truncated", reads("eval_truncated", "unreadable", schema_of="eft_eval")),
    ("empty-eval-set", empty_eval_set),
    # the CLI on broken artifacts
    ("show-truncated", cli("show", "truncated", "part-00000.parquet")),
    ("show-list-manifest", cli("show", "list_manifest")),
    ("validate-extra", cli("validate", "extra", "extra")),
    ("validate-no-fp", cli("validate", "no_fp", "'fingerprint'")),
    ("diff-garbage", cli("diff", "garbage", "part-00000.parquet")),
    ("diff-extra-column", cli("diff", "extra", "extra")),
    ("diff-no-rows", cli("diff", "no_rows", "'rows'")),
    ("export-empty-shard", cli("export", "empty_shard", "part-00000.parquet")),
    ("export-bad-json", cli("export", "bad_json", "unreadable manifest")),
    # model directories
    ("model-missing", model_case("answers", "missing_model", "no such model directory")),
    ("model-empty", model_case("answers", "empty_model", "empty")),
    ("model-bad-config", model_case("evaluate_judge", "bad_config", "not valid JSON")),
    ("model-truncated", model_case("answers", "truncated_model", "cannot load the model")),
    ("model-no-tokenizer", model_case("answers", "no_tokenizer", "no tokenizer")),
    ("model-unknown-type", model_case("evaluate_judge", "unknown_type", "nonesuch")),
    ("model-a-file", model_case("answers", "a_file", "not a file", text=FAKE)),
    ("sft-no-tokenizer", model_case("sft", "no_tokenizer", "no tokenizer")),
    ("dpo-list-config", model_case("dpo", "list_config", "JSON object")),
    # outputs that cannot be written
    ("out-not-a-folder", not_a_folder),
    ("disk-full", disk_full),
]


@pytest.mark.parametrize("make", [pytest.param(make, id=name) for name, make in CASES])
def test_bad_input_is_one_line_and_changes_nothing(world, tmp_path, make):
    command, names = make(world, tmp_path)
    before = snapshot(world.root)
    kind, *args = command
    result = run_stage(*args) if kind == "stage" else run_cli(*args)
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not TIMESTAMP.match(line)
    ]
    assert result.returncode != 0, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for name in names:
        assert name in lines[0], f"{name!r} not in {lines[0]!r}"
    after = snapshot(world.root)
    assert {path: after.get(path) for path in before} == before


def test_the_table_is_large_enough():
    assert len(CASES) >= 40 and len({name for name, _ in CASES}) == len(CASES)


def test_unexpected_errors_are_one_line_unless_debugging(monkeypatch):
    from srlm.core.console import DEBUG_HINT, error_line

    monkeypatch.delenv("SRLM_DEBUG", raising=False)
    assert error_line(KeyError("rows"), "seed") == (
        f"error: seed: unexpected KeyError: 'rows' {DEBUG_HINT}"
    )
    assert error_line(RuntimeError("two\nlines"), "sft") == (
        f"error: sft: unexpected RuntimeError: two | lines {DEBUG_HINT}"
    )
    full = pl.exceptions.ComputeError("parquet: Invalid thrift: transport error")
    assert "the disk is probably full" in error_line(full, "judgments")
    monkeypatch.setenv("SRLM_DEBUG", "1")
    assert error_line(KeyError("rows"), "seed") is None  # run_stage re-raises: a traceback


def test_os_errors_name_the_file_and_the_remedy():
    from srlm.core.console import error_line

    denied = PermissionError(13, "Permission denied", "/ro/data/m1")
    assert error_line(denied, "sft") == (
        "error: sft: /ro/data/m1: Permission denied; no permission: choose a writable output "
        "or fix the folder's permissions"
    )
    read_only = OSError(30, "Read-only file system", "/mnt/ro/x")
    assert error_line(read_only, "seed").startswith(
        "error: seed: /mnt/ro/x: Read-only file system;"
    )


# --- Issue 24, items 4 and 6: invalid input that was accepted (exit 0, 0 pairs, an empty
# report row), and errors that were a catch-all line where a named check belongs. Same
# assertions as the table above; the loop artifacts come from tests.bad_inputs.loop_world.

from tests import bad_inputs as issue24  # noqa: E402 - this block's own helpers

ISSUE_24_CASES = [
    # item 4: text, lineage, schema, manifest row count, report inputs
    (
        "zero-width-prompts",
        bad_plain(
            [{**r, "prompt": issue24.ZERO_WIDTH * 3} for r in GOOD],
            "no usable training replies",
            "reply_empty",
        ),
    ),
    ("pairs-other-iteration", issue24.pairs_case("m2/candidates", "m3/scores", "'iteration'")),
    ("pairs-foreign-scores", issue24.pairs_case("m2/candidates", "old_scores", "'candidate_id'")),
    (
        "pairs-anchors-other-mode",
        issue24.pairs_case(
            "m2/candidates",
            "m2/scores",
            "'anchored'",
            "anchored.yaml",
            anchors="m2/anchors",
            named=("anchors",),
        ),
    ),
    (
        "pairs-anchors-unrecorded",
        issue24.pairs_case(
            "m2/candidates",
            "m2/scores",
            "'rows' 0",
            anchors="old_anchors",
            named=("anchors", "candidates"),
        ),
    ),
    ("judgments-other-iteration", issue24.judgments_other_iteration),
    ("anchors-other-iteration", issue24.anchors_other_iteration),
    (
        "validate-short-probs",
        issue24.loop_cli("validate", "short_probs", "score_probs", "6 probabilities"),
    ),
    (
        "diff-deleted-shard",
        issue24.loop_cli("diff", "half", "5 rows on disk", "manifest says 10", other="ift"),
    ),
    ("diff-wrong-rows", cli("diff", "wrong_rows", "manifest says 99")),
    ("report-empty-judge", issue24.report_judge("{}", "'sampled'")),
    # item 6: named checks
    (
        "lone-surrogate",
        issue24.bad_line(
            '{"prompt": "Why \\ud800?", "response": "Because.", "score": 1}', "lone surrogate"
        ),
    ),
    ("json-too-deep", issue24.bad_line("[" * 200_000 + "]" * 200_000, "nested too deeply")),
    ("rank-2**63", bad_plain([*GOOD[:2], {**GOOD[2], "rank": 2**63}], "rank", line=3)),
    ("rank-10**400-plain", bad_plain([*GOOD[:2], {**GOOD[2], "rank": 10**400}], "rank", line=3)),
    ("rank-10**400-trees", bad_trees(lambda r: first_reply(r).update(rank=10**400), "rank")),
    (
        "quality-10**400",
        bad_trees(
            lambda r: first_reply(r)["labels"]["quality"].update(value=10**400), "'quality' label"
        ),
    ),
    (
        "huge-batch",
        bad_params("sft:\n  batch_size: 1" + "0" * 40 + "\n", "sft.batch_size", "<= 2147483647"),
    ),
    ("report-list-judge", issue24.report_judge("[]", "JSON object")),
    (
        "report-judge-mode-number",
        issue24.report_judge('{"sampled": 1, "expected": {}}', "'sampled'", "object"),
    ),
]


@pytest.mark.parametrize("make", [pytest.param(make, id=name) for name, make in ISSUE_24_CASES])
def test_issue_24_bad_input_is_one_line_and_changes_nothing(world, tmp_path, make):
    test_bad_input_is_one_line_and_changes_nothing(world, tmp_path, make)


def test_issue_24_case_names_are_new():
    names = [name for name, _ in ISSUE_24_CASES]
    assert len(set(names)) == len(names) and not set(names) & {name for name, _ in CASES}


def test_a_file_size_limit_is_named_like_a_full_disk():
    from srlm.core.console import error_line

    too_large = OSError(27, "File too large", "/data/seed/ift/part-00000.parquet")  # EFBIG
    line = error_line(too_large, "seed")
    assert line.startswith("error: seed: /data/seed/ift/part-00000.parquet: File too large; ")
    assert "file-size limit" in line and "unexpected" not in line
    polars_line = error_line(pl.exceptions.ComputeError("File too large (os error 27)"), "seed")
    assert "writing parquet failed" in polars_line and "file-size limit" in polars_line
