"""`srlm compare`: two runs' metrics figure by figure, within their 95% intervals.

The metric trees are the repository's own `metrics/` (real shapes: nested dicts, `x_ci95`
siblings, nulls, counts, timings), copied to tmp_path and edited where a test needs a change.
"""

import json
import re
import shutil
import subprocess

import pytest

from srlm.cli import main
from srlm.core.errors import SrlmError
from srlm.tools import metrics_sources
from srlm.tools.comparison_report import markdown_report, shown, text_report
from srlm.tools.metrics_sources import read_folder, read_side
from srlm.tools.run_comparison import (
    AGREE,
    CHANGED,
    DIFFER,
    MOVED,
    ONLY_A,
    ONLY_B,
    SAME,
    classify,
    compare,
    flatten,
    summarize,
)
from tests.helpers import ROOT

METRICS = ROOT / "metrics"
H2H_SOURCE = "human/oasst1_en_validation.messages.jsonl"


def copy_metrics(to):
    shutil.copytree(METRICS, to)
    return to


def edit(folder, name, change):
    path = folder / name
    tree = json.loads(path.read_text())
    change(tree)
    path.write_text(json.dumps(tree, indent=2))


def git(cwd, *args):
    return subprocess.run(
        [
            "git",
            "-c",
            "user.email=t@example.com",
            "-c",
            "user.name=t",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )


# --- classification ------------------------------------------------------------------------


def test_overlapping_intervals_agree_and_state_the_difference():
    status, note = classify(
        "expected.pairwise_accuracy", (0.5188, (0.4262, 0.6077)), (0.5600, (0.4700, 0.6500))
    )
    assert status == AGREE
    assert "B-A +0.0412" in note


def test_disjoint_intervals_differ():
    status, note = classify(
        "expected.pairwise_accuracy", (0.5188, (0.4262, 0.6077)), (0.7500, (0.6800, 0.8100))
    )
    assert status == DIFFER
    assert "+0.2312" in note and "do not overlap" in note


def test_touching_intervals_still_agree():
    assert classify("x", (0.4, (0.3, 0.5)), (0.6, (0.5, 0.7)))[0] == AGREE


def test_zero_width_intervals_are_points():
    # Bootstrap over one prompt (`by_source.mt_bench/math`, n = 1): no uncertainty to compare.
    assert classify("x", (0.4415, (0.4415, 0.4415)), (0.4482, (0.4482, 0.4482))) == (
        MOVED,
        "B-A +0.0067 (both intervals have zero width)",
    )
    assert classify("x", (0.5, (0.5, 0.5)), (0.5, (0.5, 0.5)))[0] == SAME
    # One point against a real interval: inside agrees, outside differs.
    assert classify("x", (0.0, (0.0, 0.0)), (0.05, (0.0, 0.1)))[0] == AGREE
    assert classify("x", (0.0, (0.0, 0.0)), (0.4, (0.3, 0.5)))[0] == DIFFER


def test_counts_and_labels_are_exact():
    assert classify("expected.n_pairs", (133, None), (133, None)) == (SAME, "")
    assert classify("expected.n_pairs", (133, None), (131, None)) == (CHANGED, "count B-A -2")
    assert classify("scoring", ("sampled", None), ("expected", None))[0] == CHANGED
    assert classify("lora", (False, None), (True, None))[0] == CHANGED
    # A figure undefined in one run (e.g. tau with no variance) is a change, not a number.
    assert classify("expected.kendall_tau", (None, None), (0.01, None)) == (CHANGED, "null in A")
    # A relative path says which model was used and is the same in every clone: compared.
    assert classify("model", ("data/models/m1", None), ("data/models/m2", None))[0] == CHANGED


def test_floats_without_interval_compare_to_four_decimals():
    assert classify("last_loss", (0.4752945601, None), (0.4753111, None)) == (SAME, "")
    status, note = classify("last_loss", (0.4752945601, None), (0.4811, None))
    assert status == MOVED and note == "B-A +0.0058"
    # An interval in one run only cannot settle agreement either.
    assert classify("x", (0.5, (0.4, 0.6)), (0.52, None)) == (
        MOVED,
        "B-A +0.02 (interval only in A)",
    )


@pytest.mark.parametrize(
    "figure,a,b,why",
    [
        ("seconds", 85.1, 12.0, "timing"),
        ("tokens_per_second", 318.6, 260.0, "timing"),
        ("peak_rss_mb", 755, 900, "timing"),
        ("wall_s", 1.0, 2.0, "timing"),
        ("timings.generate", 3.0, 4.0, "timing"),
        ("started", "2024-01-01T10:00", "2024-02-01T11:00", "timing"),
        ("evaluator_sha256", "144c3e", "9a0b1c", "hash"),
        ("output_dir", "runs/a", "runs/b", "path"),
        ("model", "/home/alice/m1", "/data/bob/m1", "path"),
        ("versions.torch", "2.13.0+cpu", "2.13.0+cu128", "machine"),
        ("cpu", "AMD EPYC", "Intel Xeon", "machine"),
    ],
)
def test_timings_hashes_paths_and_machines_are_not_compared(figure, a, b, why):
    assert classify(figure, (a, None), (b, None)) == (f"not compared ({why})", "")


def test_flatten_attaches_intervals_to_their_figures():
    tree = json.loads((METRICS / "m1" / "judge.json").read_text())
    figures = flatten(tree, "m1/judge.json")
    value, ci = figures["expected.pairwise_accuracy"]
    assert value == tree["expected"]["pairwise_accuracy"]
    assert list(ci) == tree["expected"]["pairwise_accuracy_ci95"]
    assert "expected.pairwise_accuracy_ci95" not in figures
    assert figures["samples.score_histogram.4"][1] is None
    assert flatten({"tau": None, "tau_ci95": None}, "f.json") == {"tau": (None, None)}


def test_malformed_interval_names_file_and_key():
    with pytest.raises(SrlmError, match=r"m1/judge\.json: expected\.acc_ci95: expected a 95% "):
        flatten({"expected": {"acc": 0.5, "acc_ci95": [0.6, 0.4]}}, "m1/judge.json")


def test_real_metrics_timings_are_exactly_the_timing_figures():
    rows = compare(read_folder(METRICS), read_folder(METRICS))
    timing = {r["figure"] for r in rows if r["status"] == "not compared (timing)"}
    assert {"seconds", "tokens_per_second"} <= timing
    # No result is mistaken for a timing (`bad_start`, `samples`, `n_five`, `time` in a source).
    last = r"(second|_s$|^time|_time|timing|wall|rss|elapsed|started|finished|date)"
    assert all(re.search(last, figure.split(".")[-1]) for figure in timing), timing
    assert all(r["status"] in (SAME, AGREE) or r["status"].startswith("not compared") for r in rows)


# --- whole runs ------------------------------------------------------------------------------


def test_same_content_agrees_with_exit_0(tmp_path):
    a, b = copy_metrics(tmp_path / "a"), copy_metrics(tmp_path / "b")
    rows = compare(read_folder(a), read_folder(b))
    counts, verdict, code = summarize(rows)
    assert code == 0 and verdict.startswith("agree: ")
    assert counts[AGREE] > 20 and DIFFER not in counts and CHANGED not in counts
    assert shown(rows, show_all=False) == []
    assert "nothing to show" in text_report(rows, "a", "b")


def test_changed_run_names_exactly_the_figures_that_moved(tmp_path):
    a, b = copy_metrics(tmp_path / "a"), copy_metrics(tmp_path / "b")

    def judge(tree):
        tree["expected"]["pairwise_accuracy"] = 0.80  # far outside A's interval
        tree["expected"]["pairwise_accuracy_ci95"] = [0.72, 0.87]
        tree["sampled"]["n_pairs"] -= 2
        tree["sampled"]["pairwise_accuracy"] += 0.01  # within: agrees
        del tree["sampled"]["spearman"], tree["sampled"]["spearman_ci95"]

    def h2h(tree):
        tree["by_source"][H2H_SOURCE]["soft_win_rate"] += 0.003  # within its interval

    def sft(tree):
        tree["seconds"] = 12.3
        tree["tokens_per_second"] = 1000.0
        tree["last_loss"] += 0.02
        tree["first_loss"] += 1e-7  # below 4 decimals
        tree["peak_rss_mb"] = 900  # a new timing is no result either

    edit(b, "m1/judge.json", judge)
    edit(b, "m2/h2h.json", h2h)
    edit(b, "m1/sft.json", sft)
    (a / "m1" / "ifeval.json").unlink(missing_ok=True)  # a metrics file only B has
    (b / "m1" / "ifeval.json").write_text(json.dumps({"prompt_strict": 0.3}))
    rows = compare(read_folder(a), read_folder(b))
    flagged = {(r["file"], r["figure"]): r["status"] for r in shown(rows, show_all=False)}
    assert flagged == {
        ("m1/judge.json", "expected.pairwise_accuracy"): DIFFER,
        ("m1/judge.json", "sampled.n_pairs"): CHANGED,
        ("m1/judge.json", "sampled.spearman"): ONLY_A,
        ("m1/sft.json", "last_loss"): MOVED,
        ("m1/ifeval.json", "(whole file)"): ONLY_B,
    }
    statuses = {(r["file"], r["figure"]): r["status"] for r in rows}
    assert statuses[("m2/h2h.json", f"by_source.{H2H_SOURCE}.soft_win_rate")] == AGREE
    assert statuses[("m1/sft.json", "seconds")] == "not compared (timing)"
    assert statuses[("m1/sft.json", "peak_rss_mb")] == "not compared (timing)"
    counts, verdict, code = summarize(rows)
    assert code == 1
    assert verdict.startswith("DIFFER: ") and "1 differ, 1 counts changed" in verdict
    # With --allow-count-changes the count is still listed, but only the differing figure fails.
    assert summarize(rows, allow_count_changes=True)[2] == 1
    text = text_report(rows, "a", "b")
    assert "DIFFER" in text and "CHANGED" in text and "count B-A -2" in text
    assert "seconds" not in text and "seconds" in text_report(rows, "a", "b", show_all=True)
    before = json.loads((a / "m1" / "judge.json").read_text())["expected"]
    low, high = before["pairwise_accuracy_ci95"]
    assert (
        f"| expected.pairwise_accuracy | {before['pairwise_accuracy']} [{low}, {high}] | "
        "0.8 [0.72, 0.87] |"
    ) in markdown_report(rows, "a", "b")


def test_a_count_change_alone_can_be_allowed(tmp_path):
    a, b = copy_metrics(tmp_path / "a"), copy_metrics(tmp_path / "b")
    edit(b, "m2/pairs.json", lambda t: t.update(pairs=t["pairs"] - 1))
    rows = compare(read_folder(a), read_folder(b))
    assert summarize(rows)[2] == 1
    counts, verdict, code = summarize(rows, allow_count_changes=True)
    assert code == 0 and "1 counts changed (allowed)" in verdict


# --- git revisions and errors ----------------------------------------------------------------


@pytest.fixture
def repo(tmp_path):
    """A throwaway git repository with the metrics committed twice (the second: m1 changed)."""
    root = tmp_path / "project"
    copy_metrics(root / "metrics")
    (root / "metrics" / "m1" / "notes.txt").write_text("not a metrics file")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "run 1")
    edit(root / "metrics", "m1/sft.json", lambda t: t.update(steps=9))
    git(root, "commit", "-qam", "run 2")
    return root


def test_reads_a_revision_like_the_folder(repo):
    label, files = read_side("HEAD~1", repo=repo)
    assert label == "HEAD~1"
    assert files == read_folder(METRICS)  # the CSV and the .txt are not read
    assert read_side(None, repo=repo)[1]["m1/sft.json"]["steps"] == 9


def test_cli_head_vs_workspace_and_two_revisions(repo, monkeypatch, capsys):
    monkeypatch.chdir(repo)
    assert main(["compare", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("agree: ")
    edit(repo / "metrics", "m1/judge.json", lambda t: t["expected"].update(n_pairs=1))
    assert main(["compare"]) == 1
    out = capsys.readouterr().out
    assert "A = HEAD\nB = metrics (workspace)" in out
    assert "expected.n_pairs" in out and "CHANGED" in out and "steps" not in out
    assert main(["compare", "HEAD~1", "HEAD", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    changed = [
        (r["file"], r["figure"], r["a"], r["b"]) for r in report["rows"] if r["status"] == CHANGED
    ]
    assert changed == [("m1/sft.json", "steps", 8, 9)] and report["exit_code"] == 1


def test_unknown_revision_is_one_line(repo, monkeypatch, capsys):
    with pytest.raises(SrlmError, match="unknown revision 'no-such-tag'"):
        read_side("no-such-tag", repo=repo)
    monkeypatch.chdir(repo)
    assert main(["compare", "no-such-tag"]) == 1
    err = capsys.readouterr().err
    assert (
        err == "error: srlm compare: unknown revision 'no-such-tag' (and no folder of that name)\n"
    )


def test_not_a_git_repository(tmp_path, monkeypatch):
    copy_metrics(tmp_path / "metrics")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    with pytest.raises(SrlmError, match="not in a git repository"):
        read_side("HEAD", repo=tmp_path)
    # Two folders need no git at all.
    assert read_side(str(tmp_path), repo=tmp_path)[1] == read_folder(METRICS)


def test_non_json_metrics_file_names_it(tmp_path, repo):
    folder = copy_metrics(tmp_path / "bad")
    (folder / "m1" / "judge.json").write_text('{"expected": {"n_pairs": 133,}}')
    with pytest.raises(SrlmError, match=r"m1/judge\.json: not valid JSON \(line 1: "):
        read_folder(folder)
    (folder / "m1" / "judge.json").write_text("[1, 2]")
    with pytest.raises(SrlmError, match="expected a JSON object of metrics, got a list"):
        read_folder(folder)
    (repo / "metrics" / "m1" / "judge.json").write_text("not json")
    git(repo, "commit", "-qam", "broken")
    with pytest.raises(SrlmError, match=r"metrics/m1/judge\.json@HEAD: not valid JSON"):
        read_side("HEAD", repo=repo)


def test_an_oversize_metrics_file_at_a_revision_is_refused_before_git_show(repo, monkeypatch):
    """Sizes come from `git ls-tree -l`: a huge committed file is never read into memory."""
    monkeypatch.setattr("srlm.tools.metrics_sources.METADATA_LIMIT", 400)
    shown = []
    real = metrics_sources._git
    monkeypatch.setattr(
        metrics_sources, "_git", lambda args, cwd: shown.append(args) or real(args, cwd)
    )
    with pytest.raises(
        SrlmError,
        match=r"^metrics/(m\d/)?\w+\.json@HEAD: [\d,]+ bytes, over "
        r"the 400 bytes limit on a metrics file$",
    ) as err:
        read_side("HEAD", repo=repo)
    too_big = str(err.value).split("@")[0]
    assert not any(args[0] == "show" and args[1].endswith(too_big) for args in shown)


def test_metrics_folder_missing_at_revision(repo):
    with pytest.raises(SrlmError, match="no JSON metrics files at revision 'HEAD'"):
        read_side("HEAD", metrics_dir="reports", repo=repo)
