"""The OpenAI-compatible evaluator against a local HTTP server that speaks the same API."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from srlm.core.config import EngineConfig, EvaluatorConfig
from srlm.core.requests import user_request
from srlm.engines.endpoint import EndpointError
from srlm.evaluation.comparisons import OPTIONS, VERDICT_PREFIX
from srlm.evaluation.evaluator import evaluator_identity, make_evaluator


class ChatServer(BaseHTTPRequestHandler):
    replies: list[dict] = []
    seen: list[tuple[str, dict, str | None]] = []

    def do_POST(self):  # noqa: N802 (the http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.seen.append((self.path, body, self.headers.get("Authorization")))
        status, payload = ChatServer.replies.pop(0)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = HTTPServer(("127.0.0.1", 0), ChatServer)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    ChatServer.replies, ChatServer.seen = [], []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def choice(content, top=None):
    logprobs = {"content": [{"token": "A", "logprob": 0.0, "top_logprobs": top}]} if top else None
    return 200, {"choices": [{"message": {"role": "assistant", "content": content},
                              "logprobs": logprobs}]}


def evaluator(url, monkeypatch):
    monkeypatch.setenv("TEST_EVAL_KEY", "sekrit")
    config = EvaluatorConfig(endpoint=url, endpoint_model="judge-70b",
                             api_key_env="TEST_EVAL_KEY", timeout_s=5)
    return make_evaluator(config, EngineConfig()), config


def test_letters_and_logprobs_become_option_probabilities(server, monkeypatch):
    judge, config = evaluator(server, monkeypatch)
    ChatServer.replies = [
        choice("B"),
        choice("A", top=[{"token": "A", "logprob": -0.1}, {"token": " B", "logprob": -2.5},
                         {"token": "The", "logprob": -4.0}]),
        choice("**Response A** is better."),
    ]
    requests = [user_request(f"r{i}", f"compare {i}") for i in range(3)]
    probs = judge.option_probabilities(requests, [VERDICT_PREFIX] * 3, OPTIONS)
    assert probs[0] == [0.0, 1.0]
    assert probs[1] == pytest.approx([0.904837, 0.082085], abs=1e-6)
    assert probs[2] == [0.0, 0.0]  # "Response" is not a verdict letter: no preference
    path, body, auth = ChatServer.seen[0]
    assert path == "/v1/chat/completions" and auth == "Bearer sekrit"
    assert body["model"] == "judge-70b" and body["temperature"] == 0
    assert body["messages"] == [{"role": "user", "content": "compare 0"}]
    assert evaluator_identity(config) == {"evaluator": f"{server}#judge-70b"}


def test_http_errors_and_bad_replies_are_one_line(server, monkeypatch):
    judge, _ = evaluator(server, monkeypatch)
    ChatServer.replies = [(401, {"error": {"message": "bad key"}}), (200, {"id": "x"})]
    with pytest.raises(EndpointError, match=r"HTTP 401: .*bad key"):
        judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)
    with pytest.raises(EndpointError, match=r"no choices\[0\]\.message"):
        judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)


def test_unreachable_endpoint_is_a_clear_error(monkeypatch):
    judge, _ = evaluator("http://127.0.0.1:9/v1", monkeypatch)
    with pytest.raises(EndpointError, match="evaluator endpoint http://127.0.0.1:9/v1"):
        judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)


def test_endpoint_params_are_checked():
    from srlm.core.config import ConfigError

    with pytest.raises(ConfigError, match="evaluator.endpoint_model"):
        EvaluatorConfig(endpoint="http://host/v1")
    with pytest.raises(ConfigError, match="evaluator.endpoint: expected an http"):
        EvaluatorConfig(endpoint="host:8000", endpoint_model="m")
