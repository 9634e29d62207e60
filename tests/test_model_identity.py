"""Models carry their identity: the writer records a folder's hash once, every reader trusts it
after a stat check (never reading the weights), and folders without a record still work."""

import hashlib
import json
import logging

import pytest

from srlm.core import model_identity
from srlm.core.fingerprints import fingerprint, input_hash
from srlm.core.model_identity import (
    MODEL_MANIFEST,
    folder_hash,
    model_directory,
    model_hash,
    recorded_hash,
)
from srlm.training.launch import main_process_output
from tests.helpers import run_stage


def fill(folder):
    """A small model-like folder: weights, config, tokenizer, and a nested file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "tokenizer.json").write_text('{"version": "1.0"}')
    (folder / "extra").mkdir(exist_ok=True)
    (folder / "extra" / "notes.txt").write_text("nested")
    return folder


def legacy_hash(folder):
    """How `input_hash` hashed a folder before records: every file's bytes, in Path order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(folder)).encode())
        digest.update(hashlib.sha256(file.read_bytes()).hexdigest().encode())
    return digest.hexdigest()


def recorded(tmp_path, name="m1"):
    with model_directory(tmp_path / name, "test") as tmp:
        fill(tmp)
    return tmp_path / name


def test_the_writer_records_every_file_last(tmp_path):
    out = recorded(tmp_path)
    record = json.loads((out / MODEL_MANIFEST).read_text())
    files = {
        p.relative_to(out).as_posix(): p
        for p in out.rglob("*")
        if p.is_file() and p.name != MODEL_MANIFEST
    }
    assert (
        set(record["files"])
        == set(files)
        == {"model.safetensors", "config.json", "tokenizer.json", "extra/notes.txt"}
    )
    for name, path in files.items():
        assert record["files"][name] == {
            "bytes": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
    assert record["bytes"] == sum(p.stat().st_size for p in files.values())
    assert record["written_by"] == "test" and record["kind"] == "model"
    # the recorded hash is the value a full read gave before records: no fingerprint moves
    legacy = fill(tmp_path / "plain")
    assert record["sha256"] == legacy_hash(legacy) == folder_hash(out)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_failed_write_leaves_no_folder_and_no_record(tmp_path):
    with pytest.raises(RuntimeError), model_directory(tmp_path / "m1", "test") as tmp:
        fill(tmp)
        raise RuntimeError("training failed")
    assert not (tmp_path / "m1").exists()


def test_only_the_main_training_process_writes_the_record(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    with main_process_output(tmp_path / "m2", "dpo") as tmp:
        assert tmp is None
    assert not (tmp_path / "m2").exists()
    monkeypatch.setenv("RANK", "0")
    with main_process_output(tmp_path / "m2", "dpo") as tmp:
        fill(tmp)
    assert recorded_hash(tmp_path / "m2") == (folder_hash(tmp_path / "m2"), "")
    assert json.loads((tmp_path / "m2" / MODEL_MANIFEST).read_text())["written_by"] == "dpo"


def test_fingerprinting_a_recorded_model_never_reads_its_files(tmp_path, monkeypatch, caplog):
    out = recorded(tmp_path)
    before = input_hash(out), fingerprint({"n": 4}, inputs=[out])
    # Same names and sizes, other bytes: only the record can give the old hash back.
    weights = out / "model.safetensors"
    weights.write_bytes(b"\xff" * weights.stat().st_size)
    hashed = []
    monkeypatch.setattr(model_identity, "hash_file", lambda path, *a: hashed.append(path))
    with caplog.at_level(logging.WARNING):
        assert (input_hash(out), fingerprint({"n": 4}, inputs=[out])) == before
    assert hashed == [] and caplog.records == []


def test_a_folder_without_a_record_is_hashed_whole_with_one_warning(tmp_path, caplog):
    plain = fill(tmp_path / "hub-snapshot")
    with caplog.at_level(logging.WARNING):
        assert model_hash(plain) == legacy_hash(plain)
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert "\n" not in line and f"no {MODEL_MANIFEST}" in line
    assert f"python -m srlm.core.model_identity {plain}" in line


@pytest.mark.parametrize(
    "change, problem",
    [
        (
            lambda m: (m / "model.safetensors").write_bytes(b"short"),
            "model.safetensors has 5 bytes",
        ),
        (lambda m: (m / "tokenizer.json").unlink(), "tokenizer.json is recorded but missing"),
        (
            lambda m: (m / "adapter.bin").write_bytes(b"x"),
            f"adapter.bin is not in {MODEL_MANIFEST}",
        ),
        (lambda m: (m / MODEL_MANIFEST).write_text("{"), f"unreadable {MODEL_MANIFEST}"),
    ],
)
def test_a_folder_that_differs_from_its_record_is_rehashed_with_a_warning(
    tmp_path, caplog, change, problem
):
    out = recorded(tmp_path)
    change(out)
    assert recorded_hash(out)[0] is None
    with caplog.at_level(logging.WARNING):
        value = model_hash(out)
    assert value == folder_hash(out)
    assert problem in caplog.records[0].getMessage()


def test_a_hand_edited_record_hash_is_not_trusted(tmp_path):
    out = recorded(tmp_path)
    record = json.loads((out / MODEL_MANIFEST).read_text())
    record["files"]["config.json"]["sha256"] = "0" * 64
    (out / MODEL_MANIFEST).write_text(json.dumps(record))
    assert recorded_hash(out) == (
        None,
        f"{MODEL_MANIFEST}: 'sha256' does not match its files' hashes",
    )


def test_same_contents_same_fingerprint_whatever_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    recorded(tmp_path / "data", "x")
    (tmp_path / "prompts.jsonl").write_text("{}\n")
    fp = fingerprint({"n": 4}, inputs=["data/x", "prompts.jsonl"])
    assert fp == fingerprint({"n": 4}, inputs=["./data/x", "./prompts.jsonl"])
    assert fp == fingerprint({"n": 4}, inputs=[tmp_path / "data" / "x", tmp_path / "prompts.jsonl"])
    recorded(tmp_path / "elsewhere", "copy")  # the same files, written again elsewhere
    assert fp == fingerprint({"n": 4}, inputs=["elsewhere/copy", "prompts.jsonl"])
    assert fp != fingerprint({"n": 4}, inputs=["prompts.jsonl", "data/x"])  # roles differ


def test_recording_a_folder_by_hand(tmp_path, caplog, capsys):
    plain = fill(tmp_path / "mine")
    model_identity.main([str(plain)])
    assert f"{plain / MODEL_MANIFEST}: 4 files" in capsys.readouterr().out
    with caplog.at_level(logging.WARNING):
        assert model_hash(plain) == legacy_hash(fill(tmp_path / "again"))
    assert [r for r in caplog.records if str(plain) in r.getMessage()] == []


@pytest.mark.integration
def test_the_base_stage_records_m0(tmp_path, tiny_model_dir):
    params = tmp_path / "params.yaml"
    params.write_text(f"base:\n  model: {tiny_model_dir}\n")
    result = run_stage(
        "base",
        "--params",
        str(params),
        "--out",
        str(tmp_path / "m0"),
        "--metrics",
        str(tmp_path / "base.json"),
    )
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "m0" / MODEL_MANIFEST).read_text())
    assert record["written_by"] == "base" and "model.safetensors" in record["files"]
    assert recorded_hash(tmp_path / "m0") == (folder_hash(tmp_path / "m0"), "")
