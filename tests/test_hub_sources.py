"""`hf://OWNER/NAME[:split]` sources, tested on a local folder in the hub's layout.

Nothing may download here, so the hub path (`datasets.load_dataset`) is exercised on a local
dataset folder laid out like `OpenAssistant/oasst1` on the hub (`data/<split>-*.parquet`);
a user who is online passes the hub id instead of the folder.
"""

import json

import polars as pl
import pytest

from srlm.evaluation.prompts import read_human_references
from srlm.sources.readers import SeedFormatError, read_prompts, read_replies
from tests.helpers import repo_file

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
