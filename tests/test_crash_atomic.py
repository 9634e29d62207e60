"""Crash-atomic commits and never touching a user's files (issue 24, items 2, 3 and 8).

A writer killed with SIGKILL at every rename of a multi-output commit (the seed stage's three
sets and its metrics file; a sharded stage's final swap) leaves all old or all new, the next
writer finishes or ignores the half-done swap, leaves nothing behind, and writes the same bytes
as a run that was never interrupted. Files and folders that only look like the project's working names (a
`.partial` folder, a lock file, a staging folder, a dangling symlink) are never removed.
"""

import errno
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

import srlm.core.locks
from srlm.core.artifacts import PendingArtifact, read_manifest, write_artifact, write_artifacts
from srlm.core.atomic import MARK, journal_path, recover
from srlm.core.errors import SrlmError
from srlm.core.locks import OutputBusyError, OutputLock, lock_path
from srlm.runtime.shards import ShardWriter, chunks, run_sharded
from srlm.tools.export import export_frame
from tests.helpers import ROOT, eft_frame, frame_for, stage_module

SETS = ("ift", "eft", "eft_eval")
SEED_DATA = ROOT / "srlm" / "seed_data"

# The child: runs the seed stage for version 2 of the seed sets and metrics (or writes a
# sharded artifact) over version 1 and kills itself with SIGKILL just before its KILL_AT-th
# rename, as `kill -9` would.
CHILD = textwrap.dedent("""
    import os, signal, sys
    import polars as pl
    import srlm.core.atomic as atomic
    from tests.test_crash_atomic import seed_stage, sharded
    count = 0
    real = atomic._rename
    def rename(src, dst):
        global count
        count += 1
        if count == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)
    atomic._rename = rename
    folder = sys.argv[2]
    if sys.argv[1] == "seed":
        seed_stage(folder, 2)
    else:
        sharded(folder, "new")
    print(count)
""")


def seed_set(folder, version):
    ift = pl.DataFrame(
        {"example_id": ["a"], "prompt": ["p"], "response": [f"r{version}"], "source": ["s"]}
    )
    folder = str(folder)
    return [
        PendingArtifact(ift, f"{folder}/ift", "seed_ift", f"v{version}"),
        PendingArtifact(eft_frame(), f"{folder}/eft", "seed_eft", f"v{version}"),
        PendingArtifact(eft_frame(2), f"{folder}/eft_eval", "seed_eft", f"v{version}"),
    ]


def seed_stage(folder, version):
    """Run the seed stage (`stages/seed.py`, as DVC does) into `folder`: its three sets and
    `metrics/seed.json`; versions 1 and 2 differ in every one of them (their sizes)."""
    folder = Path(folder)
    params = folder.parent / f"seed-v{version}.yaml"  # beside the outputs, never among them
    sizes = {1: (10, 12, 6), 2: (8, 9, 4)}[version]
    params.write_text("seed:\n  ift_size: {}\n  eft_size: {}\n  eft_eval_size: {}\n".format(*sizes))
    argv = ["--params", str(params), "--source", str(SEED_DATA / "train.trees.jsonl")]
    argv += ["--eval-source", str(SEED_DATA / "eval.trees.jsonl")]
    for name in SETS:
        argv += [f"--{name.replace('_', '-')}", str(folder / name)]
    argv += ["--metrics", str(folder / "metrics" / "seed.json")]
    saved, sys.argv = sys.argv, ["seed.py", *argv]  # the stage reads its own command line
    try:
        stage_module("seed").main()
    finally:
        sys.argv = saved


def sharded(folder, fingerprint):
    make = (
        frame_for
        if fingerprint == "old"
        else (lambda items: frame_for(items).with_columns(score=pl.lit(1.0)))
    )
    run_sharded(
        ShardWriter(f"{folder}/judgments", "judgments", fingerprint),
        chunks(list(range(6)), 2),
        make,
        "t",
    )


def snapshot(folder, outputs_only=False):
    """Every file under `folder` with its bytes (only the outputs: no hidden leftovers, no
    resumable `.partial` work folder)."""

    def output(parts: tuple[str, ...]) -> bool:
        hidden = any(part.startswith(".") for part in parts)  # also beside `metrics/seed.json`
        return not (hidden or parts[0].endswith(".partial"))

    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and (not outputs_only or output(p.relative_to(folder).parts))
    }


def entries(folder):
    """Every file and folder under `folder`, hidden ones too."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def kill_at(what, folder, k):
    env = {**os.environ, "KILL_AT": str(k), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", CHILD, what, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def trials(tmp_path, what, write_old, write_new, targets):
    """Kill the child at rename 1, 2, ... until it gets through; after each kill, the state
    the next writer sees is exactly the old or exactly the new one, and its rerun gives the
    uninterrupted bytes with nothing left beside them. Returns the number of kill points."""
    old, new = tmp_path / "old", tmp_path / "new"
    write_old(old)
    write_old(new)
    write_new(new)
    states = {"old": snapshot(old), "new": snapshot(new)}
    assert states["old"] != states["new"] and entries(new) == entries(old)
    k = 0
    while True:
        k += 1
        work = tmp_path / f"kill{k}"
        shutil.copytree(old, work)
        result = kill_at(what, work, k)
        if result.returncode == 0:
            return k - 1
        assert result.returncode == -9, result.stderr[-2000:]
        with OutputLock(work / targets[0]):  # what the next writer does before anything
            recover(work / targets[0])
        found = snapshot(work, outputs_only=True)  # leftovers go with the rerun (below)
        assert found in (states["old"], states["new"]), f"kill at rename {k}: a mix"
        write_new(work)
        assert snapshot(work) == states["new"], f"kill at rename {k}: rerun differs"
        assert sorted(p.name for p in work.iterdir()) == sorted(targets), k
        assert entries(work) == entries(new), f"kill at rename {k}: left behind"
        assert k < 50


@pytest.mark.integration
def test_kill_9_at_every_rename_of_a_set_leaves_all_old_or_all_new(tmp_path):
    # the seed stage's commit: its three sets and its metrics file, a file in another folder
    points = trials(
        tmp_path,
        "seed",
        lambda f: seed_stage(f, 1),
        lambda f: seed_stage(f, 2),
        [*SETS, "metrics"],
    )
    assert points == 4 + 2 * 4  # a journal beside each output, then old out and new in


@pytest.mark.integration
def test_kill_9_during_the_swap_of_a_sharded_artifact_is_finished_by_the_next_writer(tmp_path):
    def resumed(folder):  # the next run: the writer finishes the swap, then rebuilds
        ShardWriter(folder / "judgments", "judgments", "new").close()
        sharded(folder, "new")
        shutil.rmtree(folder / "judgments.partial", ignore_errors=True)

    points = trials(tmp_path, "sharded", lambda f: sharded(f, "old"), resumed, ["judgments"])
    assert points == 3  # journal, old out, new in


def test_a_half_done_swap_is_finished_only_under_the_lock_of_every_target(tmp_path):
    write_artifacts(seed_set(tmp_path, 1))
    journal = journal_path(tmp_path / "ift")
    journal.write_text(
        '{"srlm_journal": 1, "steps": [{"staged": "x/ift", "target": "ift", '
        '"holder": "y"}, {"staged": "z/eft", "target": "eft", "holder": "w"}]}'
    )
    other = OutputLock(tmp_path / "eft").acquire()
    srlm.core.locks._held.discard(os.path.abspath(tmp_path / "eft"))  # as if not ours
    with OutputLock(tmp_path / "ift"), pytest.raises(OutputBusyError, match="eft"):
        recover(tmp_path / "ift")
    other.release()
    assert journal.exists()  # left for the next writer, who will hold every lock
    with OutputLock(tmp_path / "ift"):
        recover(tmp_path / "ift")
    assert not journal.exists() and read_manifest(tmp_path / "eft")["fingerprint"] == "v1"


def test_a_journal_not_written_by_the_tool_is_refused_and_kept(tmp_path):
    write_artifacts(seed_set(tmp_path, 1))
    journal = journal_path(tmp_path / "ift")
    journal.write_text("my notes")
    with pytest.raises(SrlmError, match="not a journal this tool wrote"):
        write_artifacts(seed_set(tmp_path, 2))
    assert journal.read_text() == "my notes"
    assert read_manifest(tmp_path / "ift")["fingerprint"] == "v1"


def test_only_staging_folders_the_tool_made_are_removed(tmp_path):
    ours = tmp_path / ".eft.srlm-tmp-abcd1234"
    (ours / "eft").mkdir(parents=True)
    (ours / MARK).touch()
    (ours / "eft" / "part-00000.parquet").write_text("half")  # a killed writer's
    users = tmp_path / ".eft.srlm-tmp-wxyz5678"
    users.mkdir()
    (users / "notes.txt").write_text("mine")  # named like ours, no mark
    marked_but_more = tmp_path / ".eft.srlm-old-abcd1234"
    marked_but_more.mkdir()
    (marked_but_more / MARK).touch()
    (marked_but_more / "eft").mkdir()  # a backup: never removed without its journal
    write_artifact(eft_frame(), tmp_path / "eft", "seed_eft", "fp")
    assert not ours.exists()
    assert (users / "notes.txt").read_text() == "mine" and (marked_but_more / "eft").is_dir()


def test_a_users_partial_folder_is_never_emptied(tmp_path):
    work = tmp_path / "candidates.partial"
    work.mkdir()
    (work / "notes.md").write_text("my notes")
    (work / "part-00000.parquet").write_text("not a shard of ours either")
    with pytest.raises(SrlmError, match=r"candidates.partial: not a work folder.*notes.md"):
        ShardWriter(tmp_path / "candidates", "judgments", "fp")
    assert sorted(p.name for p in work.iterdir()) == ["notes.md", "part-00000.parquet"]
    assert not lock_path(tmp_path / "candidates").exists()


def test_a_users_file_named_like_the_lock_is_never_truncated_or_removed(tmp_path):
    write_artifact(eft_frame(), tmp_path / "pairs", "seed_eft", "v1")
    lock = lock_path(tmp_path / "pairs")
    lock.write_text("remember: pairs are from the good run\n")
    with pytest.raises(SrlmError, match=r"\.pairs\.srlm-lock: not a lock file") as err:
        write_artifact(eft_frame(2), tmp_path / "pairs", "seed_eft", "v2")
    assert "\n" not in str(err.value)
    assert lock.read_text() == "remember: pairs are from the good run\n"
    assert read_manifest(tmp_path / "pairs")["fingerprint"] == "v1"
    lock.unlink()
    lock.symlink_to(tmp_path / "elsewhere")  # never followed
    with pytest.raises(SrlmError, match="cannot open the lock file"):
        write_artifact(eft_frame(2), tmp_path / "pairs", "seed_eft", "v2")
    assert not (tmp_path / "elsewhere").exists()


def test_a_lock_file_is_not_left_behind_when_the_disk_is_full(tmp_path, monkeypatch):
    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(srlm.core.locks.os, "pwrite", full)
    with pytest.raises(SrlmError, match="cannot write the lock file \\(disk full\\)"):
        OutputLock(tmp_path / "pairs").acquire()
    assert list(tmp_path.iterdir()) == []
    assert not srlm.core.locks.holds(tmp_path / "pairs")


def test_export_never_replaces_a_dangling_symlink(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    frame = eft_frame()
    for fmt in ("hf", "parquet", "jsonl"):
        with pytest.raises(SrlmError, match="already exists"):
            export_frame(frame, "seed_eft", link, fmt)
        assert link.is_symlink() and os.readlink(link) == str(tmp_path / "nowhere")
