"""Long stages resume after a crash and never mix in shards from another configuration."""

import json
import signal
import subprocess
import time

import polars as pl
import pytest

from srlm.core.artifacts import read_artifact, write_artifact
from srlm.runtime.shards import ShardWriter, chunks, run_sharded
from tests.helpers import ROOT, candidates_cmd, frame_for


def test_run_sharded_resumes_where_it_stopped(tmp_path):
    shards = chunks(list(range(10)), 3)
    calls = []

    def crashing(items):
        calls.append(items[0])
        if items[0] == 6:
            raise KeyboardInterrupt  # killed while building the third shard
        return frame_for(items)

    with pytest.raises(KeyboardInterrupt):
        run_sharded(ShardWriter(tmp_path / "a", "judgments", "fp"), shards, crashing, "test")
    calls.clear()
    resumed = run_sharded(
        ShardWriter(tmp_path / "a", "judgments", "fp"), shards, frame_for_log(calls), "t"
    )
    assert calls == [6, 9]  # only the unfinished shards were built again
    clean = run_sharded(ShardWriter(tmp_path / "b", "judgments", "fp"), shards, frame_for, "t")
    assert resumed.equals(clean)
    for name in ("part-00000.parquet", "part-00003.parquet", "_manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def frame_for_log(calls):
    def build(items):
        calls.append(items[0])
        return frame_for(items)

    return build


def test_params_change_discards_stale_shards(tmp_path):
    shards = chunks(list(range(6)), 2)
    run_sharded(ShardWriter(tmp_path / "a", "judgments", "old"), shards, frame_for, "t")
    calls = []
    run_sharded(ShardWriter(tmp_path / "a", "judgments", "new"), shards, frame_for_log(calls), "t")
    assert calls == [0, 2, 4]
    assert json.loads((tmp_path / "a" / "_manifest.json").read_text())["fingerprint"] == "new"


def crash_at_second(items):
    """A shard builder that is interrupted at the shard starting with item 2."""
    if items[0] == 2:
        raise KeyboardInterrupt
    return frame_for(items)


def test_code_change_discards_stale_shards(tmp_path, monkeypatch):
    import srlm.runtime.shards

    shards = chunks(list(range(4)), 2)
    with pytest.raises(KeyboardInterrupt):
        run_sharded(ShardWriter(tmp_path / "a", "judgments", "fp"), shards, crash_at_second, "t")
    monkeypatch.setattr(srlm.runtime.shards, "code_hash", lambda code=None: "a fixed parser")
    calls = []
    run_sharded(ShardWriter(tmp_path / "a", "judgments", "fp"), shards, frame_for_log(calls), "t")
    assert calls == [0, 2]  # same params and inputs, new code: nothing reused


def test_stage_script_edit_discards_stale_shards(tmp_path):
    """The stamp covers the stage's own script, not only srlm: an edited stage never resumes
    on rows its previous version wrote."""
    script = tmp_path / "stage.py"
    script.write_text("from srlm.loop.pairs import build_pairs\n")
    shards = chunks(list(range(4)), 2)
    with pytest.raises(KeyboardInterrupt):
        run_sharded(
            ShardWriter(tmp_path / "a", "judgments", "fp", code=script),
            shards,
            crash_at_second,
            "t",
        )
    script.write_text("from srlm.loop.pairs import build_pairs  # edited\n")
    calls = []
    run_sharded(
        ShardWriter(tmp_path / "a", "judgments", "fp", code=script),
        shards,
        frame_for_log(calls),
        "t",
    )
    assert calls == [0, 2]


def test_stamp_covers_exactly_the_stage_code():
    from srlm.core.fingerprints import code_files

    files = {str(f.relative_to(ROOT)) for f in code_files(ROOT / "stages" / "candidates.py")}
    assert {"stages/candidates.py", "srlm/runtime/shards.py", "srlm/engines/fake.py"} <= files
    # code the stage never runs does not wipe its shards when it changes
    assert not files & {
        "srlm/loop/pairs.py",
        "srlm/loop/judge.py",
        "srlm/training/trainers.py",
        "stages/judgments.py",
    }


@pytest.mark.integration
def test_kill_9_and_rerun_gives_the_uninterrupted_artifact(tmp_path, tiny_model_dir):
    prompts = pl.DataFrame(
        {
            "prompt_id": [f"p{i:02d}" for i in range(12)],
            "prompt": [f"Tell me something about the number {i}." for i in range(12)],
            "iteration": ["m2"] * 12,
            "generator": ["m1"] * 12,
            "fewshot_ids": [["s"]] * 12,
        }
    )
    write_artifact(prompts, tmp_path / "prompts", "prompts", "fp")
    params = tmp_path / "params.yaml"
    params.write_text(
        "engine:\n  backend: transformers\n  precision: fp32\n  batch_size: 2\n"
        "candidates:\n  n: 2\n  max_new_tokens: 24\n  shard_size: 1\n"
    )
    killed = tmp_path / "killed"
    partial = tmp_path / "killed.partial"  # shards are built beside the output, not in it
    process = subprocess.Popen(
        candidates_cmd(tmp_path, tiny_model_dir, killed, params),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not (partial / "part-00002.parquet").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = len(list(partial.glob("part-*.parquet")))
    assert 3 <= written < 12, "the kill should land mid-run"
    assert not killed.exists(), "nothing at the output until the artifact is complete"
    subprocess.run(
        candidates_cmd(tmp_path, tiny_model_dir, killed, params), check=True, capture_output=True
    )
    assert not partial.exists()
    clean = tmp_path / "clean"
    subprocess.run(
        candidates_cmd(tmp_path, tiny_model_dir, clean, params), check=True, capture_output=True
    )
    assert read_artifact(killed).equals(read_artifact(clean))
    assert sorted(p.name for p in killed.iterdir()) == sorted(p.name for p in clean.iterdir())
    for part in sorted(clean.iterdir()):
        assert (killed / part.name).read_bytes() == part.read_bytes(), part.name
    assert not list(killed.glob("*.tmp"))
    # nothing of the run is left beside the outputs (no work folder, staging, backup or lock)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
