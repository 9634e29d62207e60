"""No failed run destroys a finished artifact, no two writers mix one, no set is half-replaced,
and nothing beside an output that srlm did not create is ever removed."""

import json
import os
import shutil
import signal
import stat
import subprocess
import time

import polars as pl
import pytest

import srlm.core.atomic
from srlm.core.artifacts import (
    ArtifactError,
    PendingArtifact,
    atomic_directory,
    read_artifact,
    read_manifest,
    write_artifact,
    write_artifacts,
)
from srlm.core.locks import OutputBusyError, OutputLock, lock_path
from srlm.core.schemas import ArtifactSchemaError
from srlm.runtime.shards import ShardWriter, chunks, run_sharded
from tests.helpers import candidates_cmd, eft_frame, frame_for


def snapshot(directory):
    """Every file of a folder with its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_failed_sharded_run_leaves_the_finished_artifact_byte_identical(tmp_path):
    shards = chunks(list(range(6)), 2)
    out = tmp_path / "judgments"
    run_sharded(ShardWriter(out, "judgments", "old"), shards, frame_for, "t")
    before = snapshot(out)

    def broken_model(items):  # what a model folder with a corrupt config.json does
        raise OSError("config.json: not valid JSON")

    with pytest.raises(OSError, match="config.json"):
        run_sharded(ShardWriter(out, "judgments", "new"), shards, broken_model, "t")
    assert snapshot(out) == before

    def dies_after_one_shard(items):
        if items[0] == 2:
            raise KeyboardInterrupt
        return frame_for(items).with_columns(score=pl.lit(1.0))

    with pytest.raises(KeyboardInterrupt):
        run_sharded(ShardWriter(out, "judgments", "new"), shards, dies_after_one_shard, "t")
    assert snapshot(out) == before  # the new shard waits in the work folder, not in `out`
    assert (tmp_path / "judgments.partial" / "part-00000.parquet").is_file()
    assert not lock_path(out).exists()  # every failure released (and removed) the lock


def test_finish_replaces_the_artifact_only_when_complete_and_valid(tmp_path):
    out = tmp_path / "judgments"
    run_sharded(ShardWriter(out, "judgments", "old"), chunks([0, 1], 2), frame_for, "t")
    before = snapshot(out)
    with ShardWriter(out, "judgments", "new") as writer:
        writer.write(0, frame_for([5]))
        with pytest.raises(Exception, match="never written"):
            writer.finish(2)
    assert snapshot(out) == before
    with ShardWriter(out, "judgments", "new") as writer:  # resumes shard 0
        assert writer.done(0) and not writer.done(1)
        writer.write(1, frame_for([6]))
        writer.finish(2)
    assert read_manifest(out)["fingerprint"] == "new"
    assert read_artifact(out)["prompt_id"].to_list() == ["p5", "p6"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judgments"]


def test_a_second_writer_fails_fast_and_the_first_finishes(tmp_path):
    out = tmp_path / "candidates"
    first = ShardWriter(out, "judgments", "a")
    first.write(0, frame_for([0, 1]))
    message = f"{out}: another srlm process (pid {os.getpid()}) is writing it"
    with pytest.raises(OutputBusyError) as err:
        ShardWriter(out, "judgments", "b")
    assert str(err.value) == message
    with pytest.raises(OutputBusyError, match="is writing it"):
        write_artifact(frame_for([9]), out, "judgments", "c")
    with pytest.raises(OutputBusyError, match="is writing it"), atomic_directory(out):
        pass
    assert first.done(0)  # the losers touched nothing
    assert first.finish(1).height == 2
    assert read_manifest(out)["fingerprint"] == "a"
    ShardWriter(out, "judgments", "b").close()  # free again once the first finished


def test_a_lock_left_by_a_killed_writer_blocks_nobody(tmp_path):
    out = tmp_path / "eft"
    lock_path(out).write_text("12345\n")  # the file stays after kill -9, its flock does not
    write_artifact(eft_frame(), out, "seed_eft", "fp")
    assert read_artifact(out).height == 3 and not lock_path(out).exists()
    with OutputLock(out):
        assert lock_path(out).read_text() == f"{os.getpid()}\n"
        with pytest.raises(OutputBusyError, match=f"pid {os.getpid()}"):
            OutputLock(out).acquire()
    assert not lock_path(out).exists()


def seed_set(tmp_path, version):
    ift = pl.DataFrame(
        {"example_id": ["a"], "prompt": ["p"], "response": [f"r{version}"], "source": ["s"]}
    )
    return [
        PendingArtifact(ift, tmp_path / "ift", "seed_ift", f"v{version}"),
        PendingArtifact(eft_frame(), tmp_path / "eft", "seed_eft", f"v{version}"),
        PendingArtifact(eft_frame(2), tmp_path / "eft_eval", "seed_eft", f"v{version}"),
    ]


def test_set_replacement_is_all_or_nothing_when_a_rename_fails(tmp_path, monkeypatch):
    write_artifacts(seed_set(tmp_path, 1))
    before = {name: snapshot(tmp_path / name) for name in ("ift", "eft", "eft_eval")}
    real = os.rename

    def failing(src, dst):
        # the third new artifact moving in (restoring the old one there must still work)
        if str(dst) == str(tmp_path / "eft_eval") and ".srlm-tmp-" in str(src):
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(srlm.core.atomic, "_rename", failing)
    with pytest.raises(OSError, match="disk full"):
        write_artifacts(seed_set(tmp_path, 2))
    assert {name: snapshot(tmp_path / name) for name in before} == before
    assert hidden(tmp_path) == []  # staging, backups and locks all cleaned up
    monkeypatch.setattr(srlm.core.atomic, "_rename", real)
    write_artifacts(seed_set(tmp_path, 2))
    assert {read_manifest(tmp_path / n)["fingerprint"] for n in before} == {"v2"}


def test_set_is_validated_whole_before_anything_is_written(tmp_path):
    write_artifacts(seed_set(tmp_path, 1))
    before = {name: snapshot(tmp_path / name) for name in ("ift", "eft", "eft_eval")}
    bad = seed_set(tmp_path, 2)
    bad[2] = bad[2]._replace(frame=eft_frame().drop("prompt"))
    with pytest.raises(ArtifactSchemaError, match="eft_eval"):
        write_artifacts(bad)
    assert {name: snapshot(tmp_path / name) for name in before} == before
    assert hidden(tmp_path) == []


def test_a_file_of_a_set_is_swapped_in_a_device_written_into_a_folder_refused(tmp_path):
    def artifact(version):
        return [PendingArtifact(eft_frame(), tmp_path / "eft", "seed_eft", f"v{version}")]

    metrics = tmp_path / "metrics" / "seed.json"
    write_artifacts(artifact(1), {metrics: "one\n"})
    write_artifacts(artifact(2), {metrics: "two\n"})
    assert metrics.read_text() == "two\n" and hidden(metrics.parent) == []
    # a device is the user's sink (`--metrics /dev/null`): written into, never renamed over
    write_artifacts(artifact(3), {"/dev/null": "three\n"})
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not [name for name in os.listdir("/dev") if "srlm" in name]
    # a folder in a file's place would be removed by the swap: refused before anything
    (tmp_path / "notes.json").mkdir()
    (tmp_path / "notes.json" / "mine.txt").write_text("mine")
    with pytest.raises(ArtifactError, match=r"notes.json: is a folder, not a file"):
        write_artifacts(artifact(4), {tmp_path / "notes.json": "four\n"})
    assert (tmp_path / "notes.json" / "mine.txt").read_text() == "mine"
    assert read_manifest(tmp_path / "eft")["fingerprint"] == "v3"


def test_neighbours_named_like_temporaries_survive(tmp_path):
    out = tmp_path / "eft"
    mine = {
        "eft.old": "a user's backup",
        "eft.tmp": "a user's notes",
        f"eft.tmp-{os.getpid()}": "more",
        ".eft.srlm-tmp-x": "not ours: wrong shape",
    }
    for name, text in mine.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "eft.old.d").mkdir()
    for _ in range(2):  # a first write and a replacement
        write_artifact(eft_frame(), out, "seed_eft", "fp")
    with atomic_directory(out) as tmp:
        shutil.copytree(out, tmp, dirs_exist_ok=True)
    assert read_artifact(out).height == 3
    for name, text in mine.items():
        assert (tmp_path / name).read_text() == text, name
    assert (tmp_path / "eft.old.d").is_dir()


# --- the stage scripts, as DVC runs them ---------------------------------------------------


def stage_inputs(tmp_path, n_prompts):
    prompts = pl.DataFrame(
        {
            "prompt_id": [f"p{i:02d}" for i in range(n_prompts)],
            "prompt": [f"Tell me something about the number {i}." for i in range(n_prompts)],
            "iteration": ["m2"] * n_prompts,
            "generator": ["m1"] * n_prompts,
            "fewshot_ids": [["s"]] * n_prompts,
        }
    )
    write_artifact(prompts, tmp_path / "prompts", "prompts", "fp")


def params(tmp_path, name, n=2):
    path = tmp_path / name
    path.write_text(
        "engine:\n  backend: transformers\n  precision: fp32\n  batch_size: 2\n"
        f"candidates:\n  n: {n}\n  max_new_tokens: 24\n  shard_size: 1\n"
    )
    return path


@pytest.mark.integration
def test_broken_model_folder_leaves_the_finished_candidates(tmp_path, tiny_model_dir):
    stage_inputs(tmp_path, 3)
    out = tmp_path / "candidates"
    good = params(tmp_path, "params.yaml")
    subprocess.run(
        candidates_cmd(tmp_path, tiny_model_dir, out, good), check=True, capture_output=True
    )
    before = snapshot(out)
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "config.json").write_text('{"model_type": "llama", oops')
    result = subprocess.run(
        candidates_cmd(tmp_path, broken, out, good), capture_output=True, text=True
    )
    assert result.returncode != 0 and "config.json" in result.stderr  # failed on the model
    assert snapshot(out) == before, "a failed run must leave the finished artifact as it was"
    assert hidden(tmp_path) == []  # its lock was released and removed on the way out


@pytest.mark.integration
def test_second_concurrent_stage_fails_with_one_line(tmp_path, tiny_model_dir):
    stage_inputs(tmp_path, 12)
    out = tmp_path / "candidates"
    log = tmp_path / "first.log"
    with log.open("w") as stderr:
        first = subprocess.Popen(
            candidates_cmd(tmp_path, tiny_model_dir, out, params(tmp_path, "a.yaml", n=2)),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.time() + 120
        while (
            not (tmp_path / "candidates.partial" / "part-00000.parquet").exists()
            and first.poll() is None
            and time.time() < deadline
        ):
            time.sleep(0.05)
        first.send_signal(signal.SIGSTOP)  # mid-run, holding the lock, for as long as we like
        assert first.poll() is None, "the first run should still be writing"
        second = subprocess.run(
            candidates_cmd(tmp_path, tiny_model_dir, out, params(tmp_path, "b.yaml", n=3)),
            capture_output=True,
            text=True,
            timeout=300,
        )
        first.send_signal(signal.SIGCONT)
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert lines[-1] == f"error: {out}: another srlm process (pid {first.pid}) is writing it"
        assert "Traceback" not in second.stderr
        assert first.wait(timeout=300) == 0, log.read_text()
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGCONT)
            first.kill()
            first.wait()
    candidates = read_artifact(out, "candidates")
    assert candidates.height == 24  # the first run's n: 2 for all 12 prompts, nothing mixed
    assert candidates.group_by("prompt_id").len()["len"].to_list() == [2] * 12
    metrics = json.loads((tmp_path / "candidates.json").read_text())
    assert metrics["per_prompt"] == 2
    assert hidden(tmp_path) == [] and not (tmp_path / "candidates.partial").exists()
