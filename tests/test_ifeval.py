"""IFEval: the shipped prompt file, its one-line errors, and every instruction's checker.

Each case takes one instruction of a real item of the shipped file (its kwargs as IFEval uses
them), and asserts a hand-written answer that follows it and one that does not.
"""

import json

import pytest

from srlm.core.errors import SrlmError
from srlm.evaluation import ifeval_upstream
from srlm.evaluation.ifeval import (
    IFEvalItem,
    check_response,
    instruction_ids,
    loose_variants,
    read_ifeval,
)
from tests.helpers import repo_file

IFEVAL = repo_file("ifeval", "input_data.jsonl")


@pytest.fixture(scope="module")
def items():
    return read_ifeval(IFEVAL)


@pytest.fixture(scope="module")
def by_key(items):
    return {item.key: item for item in items}


def solo(by_key, key, index, expected_kwargs):
    """Instruction `index` of shipped item `key` alone (prompt kept), its kwargs asserted."""
    item = by_key[key]
    assert item.kwargs[index] == expected_kwargs, (key, index)
    return IFEvalItem(item.key, item.prompt, (item.instruction_ids[index],), (item.kwargs[index],))


def custom(instruction_id, **kwargs):
    """An item with kwargs of our choosing, for hand-counted thresholds."""
    return IFEvalItem(0, "a prompt", (instruction_id,), (kwargs,))


def strict(item, response):
    return check_response(item, response)[0]


def loose(item, response):
    return check_response(item, response)[1]


# ---- the shipped file ----------------------------------------------------------------------


def test_shipped_file_has_the_published_counts(items):
    assert len(items) == 541
    assert len({item.key for item in items}) == 541
    assert sum(len(item.instruction_ids) for item in items) == 834
    assert len({i for item in items for i in item.instruction_ids}) == 25
    assert all(len(item.kwargs) == len(item.instruction_ids) for item in items)
    # By number of instructions: 305 prompts have 1, 179 have 2, 57 have 3 (SOURCE.md).
    sizes = [len(item.instruction_ids) for item in items]
    assert (sizes.count(1), sizes.count(2), sizes.count(3)) == (305, 179, 57)
    assert items[0].key == 1000  # upstream order (keys sorted as strings) is kept


def test_instruction_ids_are_the_25_the_file_uses(items):
    ids = instruction_ids()
    assert ids == sorted(ids) and len(ids) == 25
    assert set(ids) == {i for item in items for i in item.instruction_ids}


def test_upstream_quirks_are_kept_not_fixed(by_key):
    # Key 1174's prompt asks for "at least 6" o's, its kwargs say "less than": kwargs rule.
    assert by_key[1174].kwargs[0] == {
        "let_relation": "less than",
        "letter": "o",
        "let_frequency": 6,
    }
    quirk = solo(by_key, 1174, 0, by_key[1174].kwargs[0])
    assert strict(quirk, "Good. Hi.") == [True]
    assert strict(quirk, "Look, lots of o: oooooo.") == [False]
    # Key 337's prompt says "at least 400 words", its kwargs 336.
    assert by_key[337].kwargs[0] == {"relation": "at least", "num_words": 336}
    words_337 = solo(by_key, 337, 0, by_key[337].kwargs[0])
    assert strict(words_337, "word " * 336) == [True]
    assert strict(words_337, "word " * 335) == [False]
    assert by_key[30].instruction_ids.count("startend:quotation") == 2


def test_a_non_letter_letter_checks_a_seeded_random_letter_without_touching_random(by_key):
    """Keys 1122 ('#') and 1129 ('!'): Google's class swaps a non a-z "letter" for a random
    one. The quirk is kept, but the letter is seeded by the item, and global `random` is
    neither used nor disturbed."""
    import random

    item = by_key[1122]  # all lowercase; then the '#' "letter" at least 4 times
    assert item.kwargs[1] == {"let_relation": "at least", "letter": "#", "let_frequency": 4}
    random.seed(123)
    state = random.getstate()
    verdicts = set()
    for seed in range(5):
        random.seed(seed)
        verdicts.add((strict(item, "#a #b #c #d")[1], strict(item, "tttt")[1]))
    assert verdicts == {(False, True)}  # it checks 't' (seeded by key and index), not '#'
    random.setstate(state)
    check_response(by_key[1129], "x")
    assert random.getstate() == state


def test_whole_file_checks_and_echoing_the_prompt_scores_a_fixed_number(items):
    """A sanity run over all 541 items: the empty answer follows nothing; the prompt echoed
    back follows some instructions (e.g. no_comma, repeat_prompt) and always the same ones."""
    empty = [check_response(item, "") for item in items]
    assert not any(any(s) or any(lo) for s, lo in empty)
    echoed = [check_response(item, item.prompt) for item in items]
    prompts_strict = sum(all(s) for s, _ in echoed)
    prompts_loose = sum(all(lo) for _, lo in echoed)
    followed_strict = sum(sum(s) for s, _ in echoed)
    followed_loose = sum(sum(lo) for _, lo in echoed)
    assert (prompts_strict, prompts_loose, followed_strict, followed_loose) == (135, 162, 302, 344)


# ---- bad files: one line naming file:line and the field ------------------------------------

GOOD = {
    "key": 1,
    "prompt": "Say hi.",
    "instruction_id_list": ["punctuation:no_comma"],
    "kwargs": [{}],
}


def with_(**changes):
    return json.dumps({**GOOD, "key": 2, **changes})


def without(field):
    return json.dumps({k: v for k, v in {**GOOD, "key": 2}.items() if k != field})


BAD_LINES = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    (without("prompt"), "missing field 'prompt'"),
    (without("kwargs"), "missing field 'kwargs'"),
    (with_(key="2"), "field 'key' must be int, got str"),
    (with_(key=True), "field 'key' must be int, got bool"),
    (with_(prompt=None), "field 'prompt' must be str, got NoneType"),
    (
        with_(instruction_id_list="punctuation:no_comma"),
        "field 'instruction_id_list' must be list, got str",
    ),
    (with_(instruction_id_list=[], kwargs=[]), "field 'instruction_id_list' is empty"),
    (
        with_(instruction_id_list=["punctuation:no_semicolon"]),
        "field 'instruction_id_list'[0] is 'punctuation:no_semicolon', not an IFEval",
    ),
    (with_(kwargs=[{}, {}]), "field 'kwargs' has 2 entries but 'instruction_id_list' has 1"),
    (with_(kwargs=["x"]), "field 'kwargs'[0] must be an object, got str"),
    (
        with_(kwargs=[{"num_words": 5}]),
        "field 'kwargs'[0] for 'punctuation:no_comma' has arguments ['num_words'], expected []",
    ),
    (
        with_(instruction_id_list=["length_constraints:number_words"], kwargs=[{"num_words": 5}]),
        "expected ['num_words', 'relation']",
    ),
    (
        with_(
            instruction_id_list=["length_constraints:number_words"],
            kwargs=[{"num_words": 5, "relation": "more than"}],
        ),
        "field 'kwargs'[0] for 'length_constraints:number_words' does not build (ValueError",
    ),
    (
        with_(instruction_id_list=["language:response_language"], kwargs=[{"language": "xx"}]),
        "field 'kwargs'[0] for 'language:response_language' does not build (KeyError",
    ),
    (with_(key=1), "field 'key' 1 repeats line 1"),
]


@pytest.mark.parametrize(("line", "message"), BAD_LINES)
def test_a_bad_line_is_one_error_naming_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "ifeval.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + line + "\n")
    with pytest.raises(SrlmError) as caught:
        read_ifeval(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:2: ") and message in text and "\n" not in text


def test_empty_or_missing_file_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(SrlmError, match="no IFEval items"):
        read_ifeval(tmp_path / "empty.jsonl")
    with pytest.raises(SrlmError, match="absent.jsonl: no such IFEval file"):
        read_ifeval(tmp_path / "absent.jsonl")


def test_null_padded_kwargs_of_the_hub_copy_are_read_as_absent(tmp_path):
    """google/IFEval on the hub pads each kwargs dict with every argument name as null."""
    row = {
        **GOOD,
        "instruction_id_list": ["punctuation:no_comma", "keywords:existence"],
        "kwargs": [{"keywords": None, "num_words": None}, {"keywords": ["hi"], "num_words": None}],
    }
    path = tmp_path / "hub.jsonl"
    path.write_text(json.dumps(row) + "\n\n")
    (item,) = read_ifeval(path)
    assert item.kwargs == ({}, {"keywords": ["hi"]})
    assert check_response(item, "hi there") == ([True, True], [True, True])


# ---- every instruction: one answer that follows it, one that does not ---------------------

JSON_ANSWER = '{"name": "Ada", "languages": ["en", "fr"], "age": 36}'
CASES = [
    (
        "change_case:capital_word_frequency",
        1314,
        0,
        {"capital_relation": "less than", "capital_frequency": 11},
        "I LOVE NYC and the USA.",
        "ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN.",
    ),
    (
        "change_case:english_capital",
        1021,
        0,
        {},
        "THIS IS MY ANSWER IN CAPITAL LETTERS ONLY, AS YOU ASKED.",
        "This is my answer in capital letters only, as you asked.",
    ),
    (
        "change_case:english_lowercase",
        1019,
        0,
        {},
        "this is my answer, written entirely in lowercase english letters.",
        "This is my answer, written in Mixed case English letters.",
    ),
    (
        "combination:repeat_prompt",
        1012,
        0,
        None,  # kwargs: the prompt's first sentences
        "{repeat}\n\nDear boss, I am quitting. Thank you for everything.",
        "Dear boss, I am quitting. Thank you for everything.",
    ),
    (
        "combination:two_responses",
        1098,
        0,
        {},
        "The first answer is here.\n******\nA second, different answer.",
        "The same answer.\n******\nThe same answer.",
    ),
    (
        "detectable_content:number_placeholders",
        1372,
        0,
        {"num_placeholders": 7},
        "[a] [b] [c] [d] [e] [f] [g]",
        "[a] [b] [c] [d] [e] [f] and g",
    ),
    (
        "detectable_content:postscript",
        1246,
        0,
        {"postscript_marker": "P.P.S"},
        "The letter body.\n\nP.P.S. Call me back.",
        "The letter body.\n\nP.S. Call me back.",
    ),
    (
        "detectable_format:constrained_response",
        227,
        0,
        {},
        "My answer is maybe.",
        "Maybe, I am not sure.",
    ),
    ("detectable_format:json_format", 1075, 0, {}, JSON_ANSWER, "name: Ada, age: 36"),
    (
        "detectable_format:multiple_sections",
        1131,
        0,
        {"section_spliter": "Section", "num_sections": 4},
        "Section 1\nOne.\n\nSection 2\nTwo.\n\nSection 3\nThree.\n\nSection 4\nFour.",
        "Section 1\nOne.\n\nSection 2\nTwo.\n\nSection 3\nThree.",
    ),
    (
        "detectable_format:number_bullet_lists",
        102,
        0,
        {"num_bullets": 3},
        "Reasons:\n* one\n* two\n- three",
        "Reasons:\n* one\n* two\n* three\n* four",
    ),
    (
        "detectable_format:number_highlighted_sections",
        1237,
        0,
        {"num_highlights": 3},
        "*first* part, **second** part and *third* part.",
        "*first* part, **second** part and ** ** part.",
    ),
    (
        "detectable_format:title",
        1322,
        0,
        {},
        "<<Ode to Rain>>\nThe rain falls.",
        "Ode to Rain\nThe rain falls <<>>.",
    ),
    (
        "keywords:existence",
        1139,
        1,
        {"keywords": ["mom", "mother"]},
        "My mom is the best mother.",
        "My mom is the best.",
    ),
    (
        "keywords:forbidden_words",
        1147,
        0,
        {"forbidden_words": ["field", "thanks", "issue", "collaborator"]},
        "We did fieldwork together, with gratitude.",  # word boundaries: 'fieldwork' is fine
        "Many THANKS for the help.",
    ),
    (
        "keywords:frequency",
        1153,
        1,
        {"relation": "at least", "keyword": "story", "frequency": 2},
        "A story within a Story.",
        "A single story.",
    ),
    (
        "keywords:letter_frequency",
        1130,
        0,
        {"let_relation": "less than", "letter": "t", "let_frequency": 2},
        "A bit odd.",
        "That is it.",
    ),
    (
        "language:response_language",
        3682,
        0,
        {"language": "de"},
        "Ich bin sehr froh, Ihnen heute bei dieser Frage zu helfen.",
        "I am very happy to help you with this question today.",
    ),
    (
        "length_constraints:nth_paragraph_first_word",
        2215,
        0,
        {"first_word": "realising", "num_paragraphs": 2, "nth_paragraph": 1},
        '"Realising, at last, the truth."\n\nThen I moved on.',
        "Then I moved on.\n\nRealising the truth took time.",
    ),
    (
        "length_constraints:number_paragraphs",
        1082,
        0,
        {"num_paragraphs": 2},
        "First part.\n***\nSecond part.",
        "First part.\n\nSecond part.",
    ),
    (
        "length_constraints:number_sentences",
        1268,
        0,
        {"relation": "less than", "num_sentences": 6},
        "One. Two. Three.",
        "One. Two. Three. Four. Five. Six.",
    ),
    (
        "length_constraints:number_words",
        1092,
        0,
        {"relation": "less than", "num_words": 300},
        "word " * 299,
        "word " * 300,
    ),
    ("punctuation:no_comma", 1001, 0, {}, "No commas here; none at all.", "Yes, one comma."),
    (
        "startend:end_checker",
        1128,
        0,
        {"end_phrase": "Is there anything else I can help with?"},
        'Here you go. "is there anything else I can help with?"  ',
        "Is there anything else I can help with? Bye.",
    ),
    (
        "startend:quotation",
        122,
        0,
        {},
        '"The internet changed everything."',
        "The internet changed everything.",
    ),
]


def test_the_cases_cover_every_instruction_id():
    assert sorted(case[0] for case in CASES) == instruction_ids()


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_each_instruction_passes_a_following_answer_and_fails_another(by_key, case):
    instruction_id, key, index, kwargs, passing, failing = case
    if kwargs is None:
        kwargs = by_key[key].kwargs[index]
        passing = passing.format(repeat=kwargs["prompt_to_repeat"])
    item = solo(by_key, key, index, kwargs)
    assert item.instruction_ids == (instruction_id,)
    assert strict(item, passing) == [True]
    assert strict(item, failing) == [False]
    assert check_response(item, "   \n ") == ([False], [False])  # blank fails everything


def test_results_follow_the_items_instruction_order(by_key):
    item = by_key[1000]  # no_comma, highlighted sections (3), at least 300 words
    assert item.instruction_ids == (
        "punctuation:no_comma",
        "detectable_format:number_highlighted_sections",
        "length_constraints:number_words",
    )
    answer = "*one* *two* *three* " + "word " * 300
    assert strict(item, answer) == [True, True, True]
    assert strict(item, "A, *one* *two* *three* " + "word " * 300) == [False, True, True]
    assert strict(item, "*one* *two* short") == [True, False, False]


def test_response_must_be_text(by_key):
    with pytest.raises(SrlmError, match="IFEval key 1000: the response is NoneType"):
        check_response(by_key[1000], None)


# ---- loose versus strict -------------------------------------------------------------------


def test_loose_variants_are_googles_eight():
    assert loose_variants("Sure:\n*a*\nbye") == [
        "Sure:\n*a*\nbye",
        "*a*\nbye",
        "Sure:\n*a*",
        "*a*",
        "Sure:\na\nbye",
        "a\nbye",
        "Sure:\na",
        "a",
    ]


def test_a_leading_chat_line_fails_strict_but_passes_loose(by_key):
    item = solo(by_key, 1075, 0, {})
    answer = "Sure, here is the JSON you asked for:\n" + JSON_ANSWER
    assert check_response(item, answer) == ([False], [True])
    fenced = "Sure, here it is:\n```json\n" + JSON_ANSWER + "\n```\nHope this helps!"
    assert check_response(item, fenced) == ([False], [True])
    assert check_response(item, "```json\n" + JSON_ANSWER + "\n```") == ([True], [True])


def test_markdown_asterisks_fail_strict_but_pass_loose(by_key):
    item = solo(by_key, 1128, 0, {"end_phrase": "Is there anything else I can help with?"})
    answer = "Here you go.\n**Is there anything else I can help with?**"
    assert check_response(item, answer) == ([False], [True])
    # A trailing sign-off line is forgiven too (the last line removed)...
    assert check_response(item, answer.replace("**", "") + "\nBest,") == ([False], [True])
    # ...but not two of them: loose is an upper bound, not a pass for everything.
    assert check_response(item, answer + "\nBest,\nAda") == ([False], [False])


def test_loose_forgives_a_chat_line_before_a_required_title(by_key):
    item = solo(by_key, 1174, 2, {"num_highlights": 2})
    assert check_response(item, "*one* and **two**") == ([True], [True])
    assert check_response(item, "Sure!\n*one* and two") == ([False], [False])


# ---- tokenization: hand-counted, and no NLTK data ------------------------------------------


def test_no_comma_counts_only_the_ascii_comma():
    item = custom("punctuation:no_comma")
    assert strict(item, "Full-width \uff0c and ideographic \u3001 are not commas.") == [True]
    assert strict(item, "It costs 1,000 dollars.") == [False]


def test_json_format_accepts_only_one_json_value():
    item = custom("detectable_format:json_format")
    assert strict(item, '```JSON\n{"a": [1, 2]}\n```') == [True]
    assert strict(item, "[1, 2, 3]") == [True]  # any JSON value, as upstream
    assert strict(item, '{"a": 1} {"b": 2}') == [False]
    assert strict(item, "{'a': 1}") == [False]  # Python, not JSON


# 6 sentences by hand: the abbreviations "Dr." and "p.m." and the decimal "3.5" end none.
SIX_SENTENCES = (
    "Dr. Smith arrived at 5 p.m. on Monday. He sat down and read 3.5 pages. "
    "Was he tired? Yes! He slept.\nThen he left."
)


def test_number_sentences_counts_punkt_sentences_by_hand():
    assert ifeval_upstream.sent_tokenize(SIX_SENTENCES) == [
        "Dr. Smith arrived at 5 p.m. on Monday.",
        "He sat down and read 3.5 pages.",
        "Was he tired?",
        "Yes!",
        "He slept.",
        "Then he left.",
    ]
    assert strict(
        custom("length_constraints:number_sentences", relation="at least", num_sentences=6),
        SIX_SENTENCES,
    ) == [True]
    assert strict(
        custom("length_constraints:number_sentences", relation="at least", num_sentences=7),
        SIX_SENTENCES,
    ) == [False]
    assert strict(
        custom("length_constraints:number_sentences", relation="less than", num_sentences=7),
        SIX_SENTENCES,
    ) == [True]


def test_number_words_counts_word_character_runs_by_hand():
    # \w+ runs: It, s, a, well, known, fact, 3, 5, apples, naïve = 10
    text = "It's a well-known fact: 3.5 apples -- naïve!"
    assert strict(
        custom("length_constraints:number_words", relation="at least", num_words=10), text
    ) == [True]
    assert strict(
        custom("length_constraints:number_words", relation="at least", num_words=11), text
    ) == [False]
    assert strict(
        custom("length_constraints:number_words", relation="less than", num_words=10), text
    ) == [False]


def test_capital_words_are_counted_on_nltk_word_tokens_by_hand():
    text = "I can't say NO to the U.S.A. team. FOX-TERRIERS rule."
    # Treebank tokens of each sentence; 'ca' + "n't" split, 'U.S.A.' and the hyphenated
    # word stay whole. All-capital tokens: I, NO, U.S.A., FOX-TERRIERS = 4.
    assert ifeval_upstream.word_tokenize(text) == [
        "I",
        "ca",
        "n't",
        "say",
        "NO",
        "to",
        "the",
        "U.S.A.",
        "team",
        ".",
        "FOX-TERRIERS",
        "rule",
        ".",
    ]
    at_least = {"capital_relation": "at least"}
    assert strict(
        custom("change_case:capital_word_frequency", capital_frequency=4, **at_least), text
    ) == [True]
    assert strict(
        custom("change_case:capital_word_frequency", capital_frequency=5, **at_least), text
    ) == [False]


def test_no_nltk_data_is_looked_up_or_downloaded(monkeypatch, tmp_path, items):
    import nltk
    import nltk.data
    import nltk.downloader

    touched = []

    def refuse(*args, **kwargs):
        touched.append(args)
        raise AssertionError(f"NLTK data touched: {args}")

    monkeypatch.setenv("NLTK_DATA", str(tmp_path))
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    for owner, name in (
        (nltk, "download"),
        (nltk.downloader, "download"),
        (nltk.data, "find"),
        (nltk.data, "load"),
    ):
        monkeypatch.setattr(owner, name, refuse)
    ifeval_upstream.english_sentence_tokenizer.cache_clear()  # reload the model under guard

    uses_tokenizers = {
        "length_constraints:number_sentences",
        "length_constraints:number_words",
        "change_case:capital_word_frequency",
        "language:response_language",
    }
    checked = [item for item in items if uses_tokenizers & set(item.instruction_ids)]
    assert len(checked) > 100
    for item in checked:
        check_response(item, SIX_SENTENCES + " NASA and the ESA agree. " * 3)
    assert strict(
        custom("length_constraints:number_sentences", relation="at least", num_sentences=6),
        SIX_SENTENCES,
    ) == [True]
    assert touched == [] and list(tmp_path.iterdir()) == []


def test_langdetect_is_seeded():
    from langdetect import DetectorFactory

    check_response(custom("language:response_language", language="en"), "Hello there.")
    assert DetectorFactory.seed == 0
