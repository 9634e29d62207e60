"""How a path is written is no part of what is built (issue 24).

`--out data/x`, `--out ./data/x` and `--out /abs/data/x` write the same bytes: the manifest
names no path (its lineage records fingerprints, not folders), and no stage's fingerprint
counts an output flag. Inputs count by content, so their spelling changes nothing either.
Checked for a plain artifact, a set written all or nothing, and a sharded artifact.
"""

import os

import pytest

from srlm.core.artifacts import MANIFEST, PendingArtifact, write_artifact, write_artifacts
from srlm.core.fingerprints import fingerprint
from srlm.core.lineage import lineage_meta
from srlm.core.params import load_params
from srlm.core.stage import fingerprint_parts
from srlm.runtime.shards import ShardWriter, chunks, run_sharded
from tests.helpers import ROOT, eft_frame, frame_for, stage_module
from tests.test_stage import ARGV


def spellings(root):
    """The same folder `data/x` under `root`, written four ways (the working directory is
    `root`)."""
    return ["data/x", "./data/x", "data/../data//x", str(root / "data" / "x")]


def contents(folder):
    """Every file under `folder` with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def built_each_way(tmp_path, monkeypatch, write):
    """What `write(path)` leaves in the working directory, once per spelling of `data/x`,
    each in a fresh working directory; the parent `data/` holds nothing else (no leftovers)."""
    results = []
    for index in range(len(spellings(tmp_path))):
        root = tmp_path / f"run{index}"
        (root / "data").mkdir(parents=True)
        monkeypatch.chdir(root)
        (root / "data" / "input").mkdir()
        write_artifact(eft_frame(), root / "data" / "input", "seed_eft", "in")
        write(spellings(root)[index])
        results.append(contents(root / "data"))
    return results


def test_an_artifact_is_the_same_bytes_however_out_is_written(tmp_path, monkeypatch):
    def write(out):  # with lineage: it names the input by fingerprint, never by path
        meta = lineage_meta("m2", {"candidates": os.path.join(os.path.dirname(out), "input")})
        write_artifact(eft_frame(), out, "seed_eft", "fp", meta)

    first, *others = built_each_way(tmp_path, monkeypatch, write)
    assert b'"candidates": "in"' in first[f"x/{MANIFEST}"]
    assert all(other == first for other in others)


def test_a_set_is_the_same_bytes_however_its_paths_are_written(tmp_path, monkeypatch):
    def write(out):
        write_artifacts(
            [
                PendingArtifact(eft_frame(), out, "seed_eft", "fp"),
                PendingArtifact(
                    eft_frame(2), os.path.join(os.path.dirname(out), "y"), "seed_eft", "fp"
                ),
            ]
        )

    first, *others = built_each_way(tmp_path, monkeypatch, write)
    assert {f"x/{MANIFEST}", f"y/{MANIFEST}"} <= set(first)
    assert all(other == first for other in others)


def test_a_sharded_artifact_is_the_same_bytes_however_out_is_written(tmp_path, monkeypatch):
    def write(out):
        writer = ShardWriter(out, "judgments", "fp")
        run_sharded(writer, chunks(list(range(5)), 2), frame_for, "t", meta=lineage_meta("m2"))

    first, *others = built_each_way(tmp_path, monkeypatch, write)
    assert {"x/part-00002.parquet", f"x/{MANIFEST}"} <= set(first)
    assert all(other == first for other in others)


@pytest.mark.parametrize("stage", sorted(ARGV))
def test_no_stage_fingerprint_counts_how_an_output_is_written(stage):
    spec = stage_module(stage).SPEC
    outputs = {*spec.outputs, *spec.metrics, *spec.plots}
    flags = {"--" + name.replace("_", "-") for name in outputs}
    argv = ARGV[stage]
    assert flags & set(argv), stage

    def spelled(how):
        return [
            how(value) if index and argv[index - 1] in flags else value
            for index, value in enumerate(argv)
        ]

    params = load_params(ROOT / "params.yaml")
    parts = [
        fingerprint_parts(spec, params, spec.parser().parse_args(spelled(how)))
        for how in (str, lambda v: f"./{v}", lambda v: f"/somewhere/else/{v}")
    ]
    assert parts[0] == parts[1] == parts[2]


def test_an_input_counts_by_content_however_it_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_artifact(eft_frame(), "data/x", "seed_eft", "fp")
    (tmp_path / "data" / "f.jsonl").write_text("{}\n")
    (tmp_path / "data" / "hub" / "data").mkdir(parents=True)
    (tmp_path / "data" / "hub" / "data" / "train.jsonl").write_text("{}\n")
    for name in ("x", "f.jsonl"):
        ways = [f"data/{name}", f"./data/{name}", f"data/../data/{name}", f"{tmp_path}/data/{name}"]
        assert len({fingerprint({}, inputs=[way]) for way in ways}) == 1, name
    ways = ["hf://data/hub", "hf://./data/hub/", f"hf://{tmp_path}/data/hub:train"]
    assert len({fingerprint({}, inputs=[way]) for way in ways}) == 1
