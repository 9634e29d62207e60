import json

import polars as pl
import pytest

from srlm.sources.readers import SeedFormatError, detect_format, read_prompts, read_replies
from tests.helpers import ROOT, repo_file, requires_shared_data, shared_file

EMBEDDED = ROOT / "srlm" / "seed_data"


def tree(tid, prompt, replies, **prompt_fields):
    return {
        "message_tree_id": tid,
        "prompt": {
            "message_id": tid,
            "text": prompt,
            "role": "prompter",
            "lang": "en",
            **prompt_fields,
            "replies": [
                {
                    "message_id": f"{tid}-{i}",
                    "text": text,
                    "role": "assistant",
                    "lang": lang,
                    "rank": i,
                    "replies": [],
                }
                for i, (text, lang) in enumerate(replies)
            ],
        },
    }


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_embedded_seed_sets_parse_cleanly():
    train, drops = read_replies(str(EMBEDDED / "train.trees.jsonl"))
    held_out, _ = read_replies(str(EMBEDDED / "eval.trees.jsonl"))
    assert not drops
    assert train["group_id"].n_unique() == 40 and train.height >= 100
    assert held_out["group_id"].n_unique() == 20 and held_out.height == 60
    assert train["quality"].null_count() == 0  # every embedded reply carries a quality label
    # replies of one prompt are ranked 0..k-1 with strictly decreasing quality
    per_group = train.sort("group_id", "rank").group_by("group_id").agg("rank", "quality")
    for ranks, quality in per_group.select("rank", "quality").iter_rows():
        assert ranks == list(range(len(ranks)))
        assert quality == sorted(quality, reverse=True)
    shared = set(train["group_id"]) & set(held_out["group_id"])
    assert not shared, "held-out prompts must not appear in the training seed"


def test_real_oasst_trees():
    replies, drops = read_replies(str(repo_file("oasst", "oasst_2023-03_en_100.trees.jsonl")))
    assert drops == {"prompt_synthetic": 5}
    assert replies["group_id"].n_unique() == 95
    assert replies["rank"].null_count() < 10


def test_real_oasst_flat_messages_jsonl_and_parquet(tmp_path):
    path = repo_file("oasst", "oasst1_en_validation.messages.jsonl")
    replies, drops = read_replies(str(path))
    assert replies["group_id"].n_unique() == 188
    assert drops["reply_deleted"] > 0
    ranked = replies.filter(pl.col("rank").is_not_null())
    assert ranked.filter(pl.len().over("group_id") >= 2)["group_id"].n_unique() == 186
    assert replies["quality"].null_count() < 10  # HF label lists carry "quality"
    # the same messages as a parquet file in the HF dataset's layout read identically
    import datasets

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    parquet = tmp_path / "validation.parquet"
    datasets.Dataset.from_list(rows).to_parquet(str(parquet))
    from_parquet, _ = read_replies(str(parquet))
    key = ["group_id", "rank", "response"]
    assert from_parquet.drop("source").sort(key).equals(replies.drop("source").sort(key))


def test_real_plain_quality_file():
    replies, drops = read_replies(str(repo_file("oasst", "oasst2_en_firstturn_quality.jsonl")))
    assert replies.height == 2844 and not drops
    # 799 prompt ids, but two of them share one text: replies to the same text form one group
    texts = {
        " ".join(json.loads(line)["prompt_text"].split()).casefold()
        for line in repo_file("oasst", "oasst2_en_firstturn_quality.jsonl").open()
    }
    assert replies["group_id"].n_unique() == len(texts) == 798
    scored = replies.filter(pl.col("quality").is_not_null())
    best = scored.filter(pl.col("rank") == 0)
    top = scored.group_by("group_id").agg(pl.col("quality").max().alias("q"))
    assert best.join(top, on="group_id").filter(pl.col("quality") != pl.col("q")).height == 0


def test_plain_scores_on_any_scale_order_replies(tmp_path):
    path = write_jsonl(
        tmp_path / "mine.jsonl",
        [
            {"prompt": "Name a prime.", "response": "7", "score": 9},
            {"prompt": "Name a prime.", "response": "8", "score": 2},
            {"prompt": "Name a prime.", "response": "2", "score": 7},
        ],
    )
    replies, _ = read_replies(path)
    assert dict(zip(replies["response"], replies["rank"], strict=True)) == {"7": 0, "2": 1, "8": 2}
    assert replies["quality"].null_count() == 3  # 0-10 scale is not a 0-1 quality


def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(tree("t1", "Hello there, how are you?", [("Fine.", "en")]))
    path.write_text(good + "\n" + '{"prompt": {"text": "broken"\n')
    with pytest.raises(SeedFormatError, match=r"bad\.jsonl:2: malformed JSON"):
        read_replies(str(path))


def test_tree_without_replies_is_dropped_and_counted(tmp_path):
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [
            tree("t1", "What is the capital of France?", [("Paris.", "en"), ("Lyon.", "en")]),
            tree("t2", "A prompt nobody answered?", []),
        ],
    )
    replies, drops = read_replies(path)
    assert replies["group_id"].n_unique() == 1
    assert drops == {"prompt_no_replies": 1}


def test_non_english_and_empty_messages_are_dropped_and_counted(tmp_path):
    path = write_jsonl(
        tmp_path / "t.jsonl",
        [
            tree(
                "t1",
                "What is the capital of France?",
                [("Paris.", "en"), ("París.", "es"), ("   ", "en")],
            ),
            tree("t2", "¿Cuál es la capital de Francia?", [("París.", "es")], lang="es"),
            tree("t3", "", [("Nothing to answer.", "en")]),
        ],
    )
    replies, drops = read_replies(path)
    assert replies["response"].to_list() == ["Paris."]
    assert drops == {
        "reply_non_english": 1,
        "reply_empty": 1,
        "prompt_non_english": 1,
        "prompt_empty": 1,
    }


def test_unknown_format_and_missing_file(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(SeedFormatError, match=r"x\.jsonl:1: unknown seed format"):
        read_replies(path)
    with pytest.raises(SeedFormatError, match="no such file"):
        read_replies(str(tmp_path / "absent.jsonl"))
    (tmp_path / "data.csv").write_text("prompt,response\n")
    with pytest.raises(SeedFormatError, match="unknown file type '.csv'"):
        read_replies(str(tmp_path / "data.csv"))
    prompts = write_jsonl(tmp_path / "p.jsonl", ["just a prompt"])
    with pytest.raises(SeedFormatError, match="unknown seed format"):
        read_replies(prompts)


def test_detect_format():
    assert detect_format(tree("t", "p", [])) == "trees"
    assert (
        detect_format({"message_id": 1, "parent_id": None, "role": "x", "text": "y"}) == "messages"
    )
    assert detect_format({"instruction": "i", "output": "o"}) == "plain"
    assert detect_format({"turns": ["a"]}) == "prompts"
    assert detect_format("text") == "prompts"
    assert detect_format([1, 2]) == "unknown"


def test_read_prompts_of_evaluation_sets():
    mt_bench = read_prompts(str(repo_file("mt_bench", "question.jsonl")))
    assert len(mt_bench) == 160  # both turns of 80 questions
    validation = read_prompts(str(repo_file("oasst", "oasst1_en_validation.messages.jsonl")))
    assert len(validation) == 188


@requires_shared_data
def test_read_prompts_of_shared_evaluation_sets():
    alpaca = read_prompts(str(shared_file("alpaca_eval", "gpt4_1106_preview.model_outputs.json")))
    assert len(alpaca) == 805
    # the prompt lottery is not among the Open Assistant files shipped in data/raw/oasst
    lottery = read_prompts(str(shared_file("oasst", "oasst_prompt_lottery_en_250.text.jsonl")))
    assert len(lottery) == 250


@pytest.mark.parametrize(
    "content, message",
    [
        (b"null\n", r"p\.jsonl:1: unknown seed format"),
        (
            b'{"prompt": "Hi there?", "response": "Hello."}\nnull\n',
            r"p\.jsonl:2: expected a JSON object",
        ),
        (
            b'{"prompt": "Hi there?", "response": "Hello."}\n\xff\xfe broken\n',
            r"p\.jsonl:2: not valid UTF-8",
        ),
    ],
)
def test_malformed_records_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "p.jsonl"
    path.write_bytes(content)
    with pytest.raises(SeedFormatError, match=message):
        read_replies(str(path))


def test_bad_tree_replies_name_the_message(tmp_path):
    bad_rank = tree("t1", "What is the capital of France?", [("Paris.", "en")])
    bad_rank["prompt"]["replies"][0]["rank"] = "first"
    path = write_jsonl(tmp_path / "t.jsonl", [bad_rank])
    with pytest.raises(SeedFormatError, match="rank must be a number"):
        read_replies(path)
    not_object = tree("t2", "What is the capital of Spain?", [])
    not_object["prompt"]["replies"] = ["Madrid."]
    path = write_jsonl(tmp_path / "u.jsonl", [not_object])
    with pytest.raises(SeedFormatError, match="a reply is not an object"):
        read_replies(path)
