"""The loop's judge through an OpenAI-compatible endpoint (srlm.engines.chat_endpoint), against
a threaded test double of the server (tests/judge_server.py): requests, seeds, logprobs,
concurrency, retries and errors."""

from __future__ import annotations

import math
import time

import pytest

from srlm.core.params import JudgeParams, ParamsError, load_params
from srlm.engines.chat_endpoint import EndpointRecipe
from srlm.engines.http_json import EndpointError, retry_after
from srlm.engines.logprobs import watched_steps
from srlm.loop.judge import judge_candidates, judge_requests
from srlm.loop.judge_prompt import SCORE_OPTIONS, render_judge_prompt
from tests.judge_server import JudgeServer, judgment, score_probs

KEY = "sk-test-never-written-0123"


@pytest.fixture()
def server():
    double = JudgeServer(echo=KEY)
    yield double, double.start()
    double.stop()


def judge_params(url, **overrides):
    settings = dict(
        endpoint=url,
        endpoint_model="judge-70b",
        api_key_env="TEST_JUDGE_KEY",
        timeout_s=10,
        retry_backoff_s=0.01,
    )
    return JudgeParams(**{**settings, **overrides})


def rows(n):
    return [(f"c{i}", f"p{i // 2}", f"Question {i}?", f"Answer {i}.") for i in range(n)]


def judge(cfg, items, monkeypatch):
    monkeypatch.setenv("TEST_JUDGE_KEY", KEY)
    generator = EndpointRecipe(cfg).load()
    return judge_candidates(generator, items, cfg, scope="m2"), generator


def test_samples_seeds_prompt_and_score_probabilities_from_logprobs(server, monkeypatch):
    double, url = server
    cfg = judge_params(url, samples=3, temperature=0.7, max_new_tokens=48)
    items = rows(4)
    frame, generator = judge(cfg, items, monkeypatch)
    local = judge_requests(
        [(cid, render_judge_prompt(prompt, response)) for cid, _, prompt, response in items],
        cfg,
        "m2",
    )
    bodies = sorted(double.bodies(), key=lambda b: b["messages"][0]["content"])
    for body, request in zip(bodies, sorted(local, key=lambda r: r.messages[0][1]), strict=True):
        # the paper's prompt verbatim, n samples at the judge's temperature, the local seed
        assert body["messages"] == [{"role": "user", "content": request.messages[0][1]}]
        assert (body["n"], body["temperature"], body["max_tokens"]) == (3, 0.7, 48)
        assert body["seed"] == request.seed and body["model"] == "judge-70b"
        assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert {auth for _, auth, _ in double.seen} == {f"Bearer {KEY}"}
    assert frame.height == 12
    seeds = {r.request_id: r.seed for r in local}
    for row in frame.iter_rows(named=True):
        score = judgment(seeds[row["candidate_id"]], row["sample"])
        assert row["score"] == score and row["judge_text"] == f"Looks fine.\nScore: {score}"
        assert row["score_probs"] == pytest.approx(score_probs(score))
        probs = score_probs(score)
        assert row["expected_score"] == pytest.approx(
            sum(s * p for s, p in enumerate(probs)) / sum(probs)
        )
    assert generator.usage() == {
        "requests": 4,
        "retries": 0,
        "prompt_tokens": 400,
        "completion_tokens": 4 * 21,
        "replies_without_usage": 0,
    }


def test_without_logprobs_the_probabilities_are_null_never_made_up(monkeypatch):
    double = JudgeServer(logprobs=False)
    url = double.start()
    try:
        frame, _ = judge(judge_params(url), rows(2), monkeypatch)
        assert frame["score"].null_count() == 0
        assert frame["score_probs"].null_count() == frame["expected_score"].null_count() == 6
        # endpoint_top_logprobs 0: logprobs are not even asked for
        judge(judge_params(url, endpoint_top_logprobs=0), rows(1), monkeypatch)
        assert "logprobs" not in double.bodies()[-1]
    finally:
        double.stop()


def test_concurrency_bound_is_respected(monkeypatch):
    double = JudgeServer(delay=0.15)
    url = double.start()
    try:
        frame, _ = judge(judge_params(url, concurrency=3, samples=1), rows(12), monkeypatch)
    finally:
        double.stop()
    assert frame.height == 12 and len(double.seen) == 12
    # never more than the bound, and requests did overlap (each is held 0.15 s)
    assert 2 <= double.max_in_flight <= 3


def test_429_is_retried_after_retry_after(server, monkeypatch):
    double, url = server
    double.script = [(429, {"Retry-After": "0.5"})]
    frame, generator = judge(judge_params(url, samples=1, concurrency=1), rows(1), monkeypatch)
    assert frame.height == 1 and len(double.seen) == 2
    assert double.seen[1][2] - double.seen[0][2] >= 0.45  # the server's wait, not 0.01 s
    assert generator.usage()["retries"] == 1 and generator.usage()["requests"] == 2


def test_a_long_retry_after_is_capped_and_a_dropped_connection_retried(server, monkeypatch):
    double, url = server
    double.script = [(503, {"Retry-After": "3600"}), "drop"]
    cfg = judge_params(url, samples=1, concurrency=1, retry_max_wait_s=0.2)
    start = time.monotonic()
    frame, generator = judge(cfg, rows(1), monkeypatch)
    assert time.monotonic() - start < 5 and frame.height == 1
    assert len(double.seen) == 3 and generator.usage()["retries"] == 2


def test_5xx_on_every_try_is_one_line_naming_the_endpoint_never_the_key(server, monkeypatch):
    double, url = server
    double.fail_from = 0
    with pytest.raises(EndpointError) as err:
        judge(judge_params(url, retry_attempts=3, concurrency=1), rows(1), monkeypatch)
    message = str(err.value)
    assert message == (
        f'judge endpoint {url}: HTTP 500: {{"error": "busy ***"}} '
        "(gave up after 3 tries: judge.retry_attempts)"
    )
    assert len(double.seen) == 3 and KEY not in message


def test_a_client_error_is_not_retried(server, monkeypatch):
    double, url = server
    double.script = [(400, {})]
    with pytest.raises(EndpointError, match=r"judge endpoint .*: HTTP 400: "):
        judge(judge_params(url, concurrency=1), rows(3), monkeypatch)
    assert len(double.seen) <= 3 and double.seen[0][0]["seed"] is not None


def test_a_server_that_ignores_n_is_a_clear_error(monkeypatch):
    cfg = judge_params("http://127.0.0.1:9/v1", samples=2)
    generator = EndpointRecipe(cfg).load()  # no traffic until asked
    request = judge_requests([("c0", "judge this")], cfg, "m2")[0]
    with pytest.raises(EndpointError, match=r"1 choices for n = 2 samples: the server must"):
        generator._completions(request, {"choices": [{"message": {"content": "x"}}]})


def test_watched_steps_read_what_the_local_engines_record():
    steps = [
        {"token": "Score", "logprob": -0.1, "top_logprobs": [{"token": "Score", "logprob": -0.1}]},
        {"token": ":", "logprob": -0.1, "top_logprobs": [{"token": ":", "logprob": -0.1}]},
        # the sampled token is outside the top list: its own logprob counts
        {
            "token": " 2",
            "logprob": math.log(0.05),
            "top_logprobs": [
                {"token": " 4", "logprob": math.log(0.6)},
                {"token": "4", "logprob": math.log(0.1)},
                {"token": "x", "logprob": math.log(0.2)},
            ],
        },
    ]
    watched, offsets = watched_steps("Score: 2", {"content": steps}, SCORE_OPTIONS)
    assert offsets == (0, 5, 6)
    assert watched[2] == pytest.approx((0, 0, 0.05, 0, 0.7, 0))
    # vLLM's server lists the stop token it generated, which the text leaves out
    stop = {
        "token": "<|im_end|>",
        "logprob": -0.1,
        "top_logprobs": [{"token": "<|im_end|>", "logprob": -0.1}],
    }
    assert watched_steps("Score: 2", {"content": [*steps, stop]}, SCORE_OPTIONS) == (
        watched,
        offsets,
    )
    assert watched_steps("Score: 2", {"content": [*steps, stop, stop]}, SCORE_OPTIONS) == (
        None,
        None,
    )
    # tokens that do not spell the text, a step without its top list, an impossible sum
    assert watched_steps("Score: 3", {"content": steps}, SCORE_OPTIONS) == (None, None)
    bare = [{**s, "top_logprobs": []} for s in steps]
    assert watched_steps("Score: 2", {"content": bare}, SCORE_OPTIONS) == (None, None)
    over = [
        *steps[:2],
        {
            **steps[2],
            "top_logprobs": [{"token": "4", "logprob": 0.0}, {"token": " 4", "logprob": -0.1}],
        },
    ]
    assert watched_steps("Score: 2", {"content": over}, SCORE_OPTIONS) == (None, None)
    assert watched_steps("Score: 2", None, SCORE_OPTIONS) == (None, None)


def test_retry_after_reads_seconds_and_dates():
    assert retry_after("2") == 2.0 and retry_after(" 0.5 ") == 0.5
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after("soon") is None and retry_after(None) is None
    assert retry_after("-5") == 0.0


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "judge:\n  endpoint: localhost:8000/v1\n  endpoint_model: m\n",
            "judge.endpoint: expected an http(s) URL with a host",
        ),
        (
            "judge:\n  endpoint: http://127.0.0.1:8000/v1\n",
            "judge.endpoint_model: must name the served model when judge.endpoint is set",
        ),
        (
            "judge:\n  endpoint: http://judge.example/v1\n  endpoint_model: m\n",
            "judge.endpoint: plain http to another machine would send the key unencrypted; use "
            "https, or set judge.allow_insecure_http: true",
        ),
        (
            "judge:\n  endpoint: https://ann:hunter2@judge.example/v1\n  endpoint_model: m\n",
            "judge.endpoint: credentials in the URL are refused",
        ),
        (
            'judge:\n  endpoint: "http://127.0.0.1/v1\\r\\nX: 1"\n  endpoint_model: m\n',
            "judge.endpoint: spaces and control characters",
        ),
        (
            "judge:\n  endpoint: https://j.example/v1\n  endpoint_model: m\n  model: d\n",
            "judge.model: set judge.model or judge.endpoint, not both",
        ),
        ("judge:\n  concurrency: 0\n", "judge.concurrency: must be > 0"),
        ("judge:\n  retry_attempts: 0\n", "judge.retry_attempts: must be > 0"),
        ("judge:\n  endpoint_top_logprobs: 3\n", "judge.endpoint_top_logprobs: must be 0 or"),
    ],
)
def test_endpoint_params_are_one_line_naming_the_key(tmp_path, text, message):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError) as err:
        load_params(tmp_path / "params.yaml")
    prefix = f"{tmp_path / 'params.yaml'}: "
    assert str(err.value).startswith(prefix + message) and "\n" not in str(err.value)
    assert "hunter2" not in str(err.value)


def test_endpoint_params_are_explained(capsys):
    from srlm.cli import main

    assert main(["params", "--explain"]) == 0
    out = capsys.readouterr().out
    for line in (
        "judge.endpoint  (str or null, default null)  ",
        "judge.endpoint_model  (str or null, default null)  ",
        "judge.api_key_env  (str, default OPENAI_API_KEY)  ",
        "judge.concurrency  (int, default 8)  ",
        "judge.retry_attempts  (int, default 5)  ",
        "judge.retry_backoff_s  (float, default 1.0)  ",
        "judge.retry_max_wait_s  (float, default 60.0)  ",
        "judge.endpoint_top_logprobs  (int, default 20)  ",
    ):
        assert line in out
