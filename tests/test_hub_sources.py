"""`hf://OWNER/NAME[:split]` sources, tested on a local folder in the hub's layout.

Nothing may download here, so the hub path (`datasets.load_dataset`) is exercised on a local
dataset folder laid out like `OpenAssistant/oasst1` on the hub (`data/<split>-*.parquet`);
a user who is online passes the hub id instead of the folder.
"""

import json
import shutil

import polars as pl
import pytest

from srlm.core.fingerprints import fingerprint
from srlm.core.params import load_params
from srlm.core.stage import fingerprint_parts
from srlm.evaluation.prompts import read_human_references
from srlm.sources.readers import SeedFormatError, read_prompts, read_replies
from tests.helpers import ROOT, repo_file, stage_module

VALIDATION = repo_file("oasst", "oasst1_en_validation.messages.jsonl")


@pytest.fixture(scope="module")
def hub_folder(tmp_path_factory):
    """oasst1's validation split as the hub stores it: a parquet file per split under data/."""
    folder = tmp_path_factory.mktemp("OpenAssistant") / "oasst1"
    (folder / "data").mkdir(parents=True)
    records = [json.loads(line) for line in VALIDATION.open()]
    pl.DataFrame(records, infer_schema_length=None).write_parquet(
        folder / "data" / "validation-00000-of-00001.parquet"
    )
    return folder


def test_hub_layout_reads_like_the_jsonl_file(hub_folder):
    from_hub, hub_drops = read_replies(f"hf://{hub_folder}:validation")
    from_file, file_drops = read_replies(str(VALIDATION))
    assert from_hub.height == from_file.height > 500 and hub_drops == file_drops
    columns = ["group_id", "prompt", "response", "rank", "quality"]
    assert (
        from_hub.select(columns)
        .sort(columns[:3])
        .equals(from_file.select(columns).sort(columns[:3]))
    )
    assert set(read_prompts(f"hf://{hub_folder}:validation")) == set(read_prompts(str(VALIDATION)))
    hub_refs = read_human_references(f"hf://{hub_folder}:validation")
    assert (
        hub_refs["prompt_id"]
        .sort()
        .equals(read_human_references(str(VALIDATION))["prompt_id"].sort())
    )


def test_unknown_split_or_dataset_is_one_line(hub_folder, tmp_path):
    with pytest.raises(SeedFormatError, match=r"^hf://.*: cannot load \(") as err:
        read_replies(f"hf://{hub_folder}:test")
    assert "\n" not in str(err.value)
    with pytest.raises(SeedFormatError, match="cannot load"):
        read_replies(f"hf://{tmp_path}/no-such-dataset")


def seed_fingerprint(*sources: str) -> tuple[str, list[str], dict]:
    """The seed stage's fingerprint, its inputs and extra identity, for `--source`s."""
    spec = stage_module("seed").SPEC
    argv = [arg for source in sources for arg in ("--source", source)]
    argv += ["--eval-source", str(VALIDATION), "--ift", "i", "--eft", "e", "--eft-eval", "v"]
    args = spec.parser().parse_args([*argv, "--metrics", "m"])
    payload, inputs, extra = fingerprint_parts(spec, load_params(ROOT / "params.yaml"), args)
    return fingerprint(payload, inputs=inputs, **extra), inputs, extra


def test_a_local_folder_given_as_hf_counts_by_content_a_hub_name_by_name(
    hub_folder, tmp_path, monkeypatch
):
    # `datasets.load_dataset(name)` reads a local folder when `name` is one, so its content,
    # not its name, is what the seed sets are built from.
    monkeypatch.chdir(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(hub_folder, first)
    shutil.copytree(hub_folder, second)
    same = seed_fingerprint("hf://first:validation")
    assert same[0] == seed_fingerprint(f"hf://{second}:validation")[0]  # no path counts
    assert same[0] == seed_fingerprint("hf://./second/:validation")[0]
    assert same[2] == {"remote": []} and same[1][0] == "hf://first:validation"
    # what `datasets` never reads (hidden files) changes nothing; any data file does
    (second / ".cache").mkdir()
    (second / ".cache" / "lock").write_text("x")
    assert seed_fingerprint("hf://second:validation")[0] == same[0]
    parquet = next((second / "data").glob("*.parquet"))
    pl.read_parquet(parquet).head(10).write_parquet(parquet)
    assert seed_fingerprint("hf://second:validation")[0] != same[0]
    # the split is part of what is read; none given is "train"
    assert seed_fingerprint("hf://first:test")[0] != same[0]
    assert seed_fingerprint("hf://first")[0] == seed_fingerprint("hf://first:train")[0]
    # read by `datasets` or as a plain file: not the same input, even with the same bytes
    plain = seed_fingerprint(str(parquet))[0]
    assert plain != seed_fingerprint(f"hf://{second}")[0]
    # a hub name (no such folder here) still counts by name
    hub = seed_fingerprint("hf://OpenAssistant/oasst1:validation", str(VALIDATION))
    assert hub[1] == [str(VALIDATION), str(VALIDATION)]
    assert hub[2] == {"remote": ["hf://OpenAssistant/oasst1:validation"]}
