"""srlm.core.lineage: manifests say which build an artifact is of; inputs of two builds are
one line naming both files and the field (issue 24)."""

import json

import polars as pl
import pytest

from srlm.core.artifacts import read_manifest, write_artifact
from srlm.core.lineage import (
    LineageError,
    built_from,
    expect,
    lineage,
    lineage_meta,
    same,
    same_candidates,
)
from tests.helpers import pairs_frame


def artifact(tmp_path, name, fp, meta=None):
    return write_artifact(pairs_frame(2), tmp_path / name, "pairs", fp, meta)


def test_lineage_meta_records_iteration_input_fingerprints_and_settings(tmp_path):
    parent = artifact(tmp_path, "parent", "fp-parent")
    child = artifact(
        tmp_path, "child", "fp-child", lineage_meta("m2", {"candidates": parent}, anchored=True)
    )
    assert lineage(read_manifest(child)) == {
        "iteration": "m2",
        "inputs": {"candidates": "fp-parent"},
        "anchored": True,
    }
    assert lineage(read_manifest(parent)) == {}  # none recorded: nothing to compare


def test_mismatches_name_both_files_and_the_field(tmp_path):
    m2 = artifact(tmp_path, "m2", "a", lineage_meta("m2"))
    m3 = artifact(tmp_path, "m3", "b", lineage_meta("m3"))
    old = artifact(tmp_path, "old", "c")
    with pytest.raises(
        LineageError,
        match=rf"^{m2} and {m3} are of different builds: "
        r"manifest lineage 'iteration' is 'm2' and 'm3'",
    ):
        same("iteration", m2, m3)
    same("iteration", m2, old)  # not recorded on one side: no error
    with pytest.raises(
        LineageError,
        match=rf"^{m3}: built for iteration 'm3' .*--iteration "
        r"says 'm2'",
    ):
        expect(m3, "iteration", "m2", "--iteration")
    expect(old, "iteration", "m2", "--iteration")
    child = artifact(tmp_path, "child", "d", lineage_meta("m2", {"candidates": m2}))
    built_from(child, "candidates", m2)
    with pytest.raises(
        LineageError,
        match=rf"^{child} was built from other candidates than "
        rf"{m3}: manifest lineage 'inputs.candidates' is a",
    ):
        built_from(child, "candidates", m3)


def test_a_malformed_lineage_entry_is_no_lineage(tmp_path):
    path = artifact(tmp_path, "x", "fp")
    manifest = json.loads((path / "_manifest.json").read_text())
    (path / "_manifest.json").write_text(json.dumps({**manifest, "lineage": [1]}))
    assert lineage(read_manifest(path)) == {}


def test_scores_must_score_exactly_the_candidates():
    candidates = pl.DataFrame({"candidate_id": ["a", "b"]})
    same_candidates(pl.DataFrame({"candidate_id": ["b", "a"]}), candidates, "s", "c")
    with pytest.raises(
        LineageError,
        match=r"^s: score 1 candidate id\(s\) that c does not "
        r"have \(e\.g\. 'z', column 'candidate_id'\)",
    ):
        same_candidates(pl.DataFrame({"candidate_id": ["a", "b", "z"]}), candidates, "s", "c")
    with pytest.raises(LineageError, match=r"^s: no score for 1 of the candidate ids of c"):
        same_candidates(pl.DataFrame({"candidate_id": ["a"]}), candidates, "s", "c")
