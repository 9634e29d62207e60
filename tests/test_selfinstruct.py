import inspect
import re
from collections import Counter

import pytest

from srlm.core.params import PromptsParams
from srlm.core.schemas import DROP_REASONS, artifact_frame, validate
from srlm.loop.selfinstruct import (
    KnownPrompts,
    clean_instruction,
    filter_prompt,
    generate_prompts,
    pick_fewshot,
    render_fewshot,
    rouge_l,
    tokens,
)
from tests.helpers import reference_rouge_l

CFG = PromptsParams()
BANNED = [" ".join(tokens(k)) for k in CFG.banned_keywords]


def keep(text, known=(), forbidden=frozenset()):
    return filter_prompt(text, KnownPrompts(tokens(k) for k in known), BANNED, set(forbidden), CFG)


def test_rouge_l():
    assert rouge_l(tokens("the cat sat on the mat"), tokens("the cat sat on the mat")) == 1.0
    assert rouge_l(tokens("a b c d"), tokens("x y z")) == 0.0
    # LCS "a c d" of 4 and 3 tokens: P=3/4, R=3/3
    assert rouge_l(tokens("a b c d"), tokens("a c d")) == pytest.approx(2 * 0.75 / 1.75)
    assert rouge_l([], tokens("a")) == 0.0


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("Why?", "too_short"),
        ("word " * 81, "too_long"),
        ("Draw a cat riding a bicycle please", "banned_keyword"),
        ("Describe this image of a sunset for me", "banned_keyword"),
        ("Please go to the store and buy milk", "banned_keyword"),
        ("... and then what happens next in the story", "bad_start"),
        ("How do I bake sourdough bread at home?", "kept"),
        ("Explain how a map function works in Python", "banned_keyword"),
    ],
)
def test_filters(text, reason):
    assert keep(text)[1] == reason


def test_near_duplicates_and_evaluation_prompts_are_dropped():
    known = ["How do I bake sourdough bread at home?"]
    assert keep("How can I bake sourdough bread at home?", known) == (False, "near_duplicate")
    assert keep("What causes the northern lights to appear?", known) == (True, "kept")
    forbidden = {"what causes the northern lights to appear?"}
    assert keep("What causes the   Northern lights to appear?", forbidden=forbidden) == (
        False,
        "evaluation_prompt",
    )


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("9. Write a limerick about tea.\n\n10. Another", "Write a limerick about tea."),
        ("Request: Summarize the causes of inflation.", "Summarize the causes of inflation."),
        ('"How do tides work?"', "How do tides work?"),
        ("- List three uses of vinegar.", "List three uses of vinegar."),
    ],
)
def test_clean_instruction(raw, clean):
    assert clean_instruction(raw) == clean


def test_fewshot_prompt_and_sampling():
    import random

    text = render_fewshot(["First\nexample", "Second"])
    assert "1. First example\n2. Second" in text and "{examples}" not in text
    ids = pick_fewshot([f"s{i}" for i in range(10)], ["g1", "g2", "g3"], 6, 2, random.Random(0))
    assert len(ids) == 8 and sum(i.startswith("g") for i in ids) == 2
    assert pick_fewshot(["s1"], [], 6, 2, random.Random(0)) == ["s1"]


def test_generate_prompts_counts_every_attempt():
    seed = {f"s{i}": f"Seed question number {i} about topic {i}?" for i in range(8)}
    replies = iter(
        [
            "Tell me a fun fact about octopuses.",
            "Draw me a horse.",
            "Tell me a fun fact about octopuses!",
            "What is the tallest mountain in Africa?",
            "How do vaccines work?",
            "Why?",
        ]
        * 3
    )

    def complete(batch):
        assert all(isinstance(seed_value, int) for _, _, seed_value in batch)
        return [next(replies) for _ in batch]

    cfg = PromptsParams(n_generate=6, n_keep=10, round_size=4)
    rows, _, reasons = generate_prompts(complete, seed, ["How do vaccines work?"], "m2", cfg)
    assert [r["prompt"] for r in rows] == [
        "Tell me a fun fact about octopuses.",
        "What is the tallest mountain in Africa?",
    ]
    assert reasons == Counter(
        {
            "kept": 2,
            "banned_keyword": 1,
            "near_duplicate": 1,
            "evaluation_prompt": 1,
            "too_short": 1,
        }
    )
    assert all(len(r["fewshot_ids"]) == 6 for r in rows[:1])


def test_generate_prompts_stops_at_quota():
    def complete(batch):
        return [f"Explain topic number {rid} in simple words" for rid, _, _ in batch]

    # only exact repeats are near-duplicates
    cfg = PromptsParams(n_generate=20, n_keep=3, max_rouge_l=1.0, round_size=5)
    rows, dropped, reasons = generate_prompts(
        complete, {"s": "Seed prompt here please"}, [], "m2", cfg
    )
    assert len(rows) == 3 and reasons["kept"] == 3 and reasons["over_quota"] == 2
    assert sum(reasons.values()) == 5  # stopped after the first round
    # the prompts over the quota passed the filters: they are kept as dropped, with their text
    assert [(r["request_id"], r["reason"]) for r in dropped] == [
        ("m2-3", "over_quota"),
        ("m2-4", "over_quota"),
    ]
    assert dropped[0]["text"] == "Explain topic number m2-3 in simple words"


def test_generate_prompts_keeps_the_dropped_generations_with_their_reason():
    seed = {f"s{i}": f"Seed question number {i} about topic {i}?" for i in range(8)}
    replies = {
        "m2-0": "What is the tallest mountain in Africa?",
        "m2-1": "Why?",  # too short
        "m2-2": "Score: 4",  # the judge's output format
        "m2-3": "What is the tallest mountain in Africa?",  # a repeat of m2-0
        "m2-4": "\n\n",  # nothing left once cleaned
        "m2-5": "Name three rivers that flow through more than four countries.",
    }
    fewshot = {}

    def complete(batch):
        for rid, text, _ in batch:
            fewshot[rid] = text
        return [replies[rid] for rid, _, _ in batch]

    # min_words 2: "Score: 4" is long enough to be dropped for its format, "Why?" is not
    cfg = PromptsParams(n_generate=6, n_keep=10, round_size=3, min_words=2)
    rows, dropped, reasons = generate_prompts(complete, seed, [], "m2", cfg)
    assert [r["prompt"] for r in rows] == [replies["m2-0"], replies["m2-5"]]
    assert [(r["request_id"], r["text"], r["reason"]) for r in dropped] == [
        ("m2-1", "Why?", "too_short"),
        ("m2-2", "Score: 4", "judge_format"),
        ("m2-3", replies["m2-3"], "near_duplicate"),
        ("m2-4", "", "empty"),
    ]
    # each row names the few-shot examples its request was shown (seed ids, then kept ones)
    for row in dropped:
        assert len(row["fewshot_ids"]) >= 6
        shown = [seed.get(i) or replies["m2-0"] for i in row["fewshot_ids"]]
        assert all(text in fewshot[row["request_id"]] for text in shown)
    # the counts are the dropped rows' reasons, plus the kept ones
    assert reasons == Counter(r["reason"] for r in dropped) + Counter(kept=len(rows))
    frame = artifact_frame("dropped_prompts", [{**r, "iteration": "m2"} for r in dropped])
    validate(frame, "dropped_prompts")


def test_every_drop_reason_is_one_the_schema_accepts():
    """`filter_prompt`'s reasons (and over_quota) are the `dropped_prompts` schema's: a new
    filter must be added there too, or the stage would fail on writing after all its work."""
    given = set(re.findall(r'return False, "(\w+)"', inspect.getsource(filter_prompt)))
    assert given and given | {"over_quota"} == set(DROP_REASONS)


def test_prompt_rounds_are_round_size_requests():
    sizes = []

    def complete(batch):
        sizes.append(len(batch))
        return [f"Explain topic number {rid} in simple words" for rid, _, _ in batch]

    cfg = PromptsParams(n_generate=23, n_keep=100, max_rouge_l=1.0, round_size=10)
    rows, _, _ = generate_prompts(complete, {"s": "Seed prompt here please"}, [], "m2", cfg)
    assert sizes == [10, 10, 3] and len(rows) == 23


@pytest.mark.parametrize(
    "text, reason",
    [
        ("Here is a possible example to use:", "incomplete"),
        ("The request is how to answer a logical argument", "meta_text"),
        ("Your response is off-topic and should be shorter", "meta_text"),
        ("Score: The 4th value of the atmosphere", "judge_format"),
        ('Current Topic: "Score: 3" Score: 5 is what I think', "judge_format"),
        ("Score: Money, Investing, Saving, Budget", "judge_format"),
        ("How do I compute a credit score from my payment history?", "kept"),
        ("What is the difference between a major and a minor chord?", "kept"),
    ],
)
def test_small_model_failure_modes_are_filtered(text, reason):
    assert keep(text)[1] == reason


def test_numbered_list_continuations_are_cut():
    raw = "What's an emergency fund? 2. Why does the moon show one face? 3. How"
    assert clean_instruction(raw) == "What's an emergency fund?"
    assert clean_instruction("One new request: Write a SQL query.") == "Write a SQL query."


def test_bulk_near_duplicate_rule_equals_the_pairwise_rule():
    import random

    rng = random.Random(0)
    vocab = "a b c d e f g h".split()  # a small vocabulary: many long common subsequences
    known = [[rng.choice(vocab) for _ in range(rng.randint(0, 14))] for _ in range(300)]
    bulk = KnownPrompts(known)
    checked = 0
    for _ in range(400):
        words = [rng.choice(vocab) for _ in range(rng.randint(1, 14))]
        scores = [reference_rouge_l(words, other) for other in known]
        assert [rouge_l(words, other) for other in known] == scores  # bit for bit
        for threshold in (0.5, 0.7, 2 / 3, max(scores)):  # max: a pair exactly at the line
            assert bulk.near_duplicate(words, threshold) == any(s >= threshold for s in scores)
            checked += 1
    assert checked == 1600


def test_prompt_metrics_count_kept_and_dropped():
    import polars as pl

    from srlm.loop.selfinstruct import prompt_metrics

    kept = pl.DataFrame({"prompt": ["one two three", "one two three four five"]})
    metrics = prompt_metrics(kept, Counter(kept=2, too_short=1, banned=1))
    assert metrics == {
        "generated": 4,
        "kept": 2,
        "keep_rate": 0.5,
        "dropped": {"banned": 1, "too_short": 1},
        "mean_words": 4.0,
    }
    assert prompt_metrics(kept.clear(), Counter())["keep_rate"] is None
