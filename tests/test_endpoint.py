"""The OpenAI-compatible evaluator against a local HTTP server that speaks the same API."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from srlm.core.params import EngineParams, EvaluatorParams
from srlm.engines.endpoint import EndpointError
from srlm.evaluation.comparisons import OPTIONS, VERDICT_PREFIX
from srlm.evaluation.evaluator import evaluator_identity, make_evaluator
from srlm.runtime.requests import user_request


class ChatServer(BaseHTTPRequestHandler):
    replies: list[dict] = []
    seen: list[tuple[str, dict, str | None]] = []

    def do_POST(self):  # noqa: N802 (the http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.seen.append((self.path, body, self.headers.get("Authorization")))
        status, payload, *headers = ChatServer.replies.pop(0)
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers[0] if headers else {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class OtherOrigin(BaseHTTPRequestHandler):
    """Where a redirect points: records every request that reaches it, with its headers."""

    seen: list[tuple[str, str, dict]] = []

    def _record(self):
        OtherOrigin.seen.append((self.command, self.path, dict(self.headers)))
        data = json.dumps(choice("A")[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _record  # noqa: N815 (the http.server API)

    def log_message(self, *args):
        pass


def _serve(handler):
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return httpd


@pytest.fixture()
def server():
    httpd = _serve(ChatServer)
    ChatServer.replies, ChatServer.seen = [], []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


@pytest.fixture()
def other_origin():
    httpd = _serve(OtherOrigin)
    OtherOrigin.seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def choice(content, top=None):
    logprobs = {"content": [{"token": "A", "logprob": 0.0, "top_logprobs": top}]} if top else None
    return 200, {
        "choices": [{"message": {"role": "assistant", "content": content}, "logprobs": logprobs}]
    }


def evaluator(url, monkeypatch, **params):
    monkeypatch.setenv("TEST_EVAL_KEY", "sekrit")
    config = EvaluatorParams(
        endpoint=url, endpoint_model="judge-70b", api_key_env="TEST_EVAL_KEY", timeout_s=5, **params
    )
    return make_evaluator(config, EngineParams()), config


def unchecked(url: str, **params) -> EvaluatorParams:
    """Evaluator params naming `url` past the params check, to test the request code's own."""
    config = EvaluatorParams(endpoint="https://127.0.0.1/v1", endpoint_model="judge-70b", **params)
    object.__setattr__(config, "endpoint", url)
    return config


def test_letters_and_logprobs_become_option_probabilities(server, monkeypatch):
    judge, config = evaluator(server, monkeypatch)
    ChatServer.replies = [
        choice("B"),
        choice(
            "A",
            top=[
                {"token": "A", "logprob": -0.1},
                {"token": " B", "logprob": -2.5},
                {"token": "The", "logprob": -4.0},
            ],
        ),
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
    from srlm.core.params import ParamsError

    with pytest.raises(ParamsError, match="evaluator.endpoint_model"):
        EvaluatorParams(endpoint="http://127.0.0.1/v1")
    with pytest.raises(ParamsError, match="evaluator.endpoint: expected an http"):
        EvaluatorParams(endpoint="host:8000", endpoint_model="m")
    # the request code's rules, at params time: plain http off this machine, credentials
    with pytest.raises(ParamsError, match="evaluator.endpoint: plain http to another machine"):
        EvaluatorParams(endpoint="http://host/v1", endpoint_model="m")
    with pytest.raises(ParamsError, match="evaluator.endpoint: credentials in the URL") as err:
        EvaluatorParams(endpoint="https://user:hunter2@host/v1", endpoint_model="m")
    assert "hunter2" not in str(err.value)
    EvaluatorParams(endpoint="http://host/v1", endpoint_model="m", allow_insecure_http=True)


@pytest.mark.parametrize(
    "status, userinfo",
    [(301, ""), (302, ""), (303, ""), (307, ""), (308, ""), (302, "someone:hunter2@")],
)
def test_redirects_are_refused_and_the_key_never_leaves_the_origin(
    server, other_origin, monkeypatch, status, userinfo
):
    judge, _ = evaluator(server, monkeypatch)
    target = other_origin.replace("http://", f"http://{userinfo}") + "/v1/chat/completions"
    ChatServer.replies = [(status, {}, {"Location": target})]
    with pytest.raises(EndpointError) as err:
        judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)
    message = str(err.value)
    assert message == (
        f"evaluator endpoint {server}: HTTP {status} redirect to "
        f"{other_origin}/v1/chat/completions refused: redirects are never "
        "followed (set evaluator.endpoint to the final URL)"
    )
    assert "sekrit" not in message and "hunter2" not in message and "\n" not in message
    assert ChatServer.seen[0][2] == "Bearer sekrit"  # the configured origin got the key...
    assert OtherOrigin.seen == []  # ...and the other one got nothing at all


def test_a_redirect_without_location_is_refused_too(server, monkeypatch):
    judge, _ = evaluator(server, monkeypatch)
    ChatServer.replies = [(302, {})]
    with pytest.raises(EndpointError, match=r"HTTP 302 redirect to \(no Location\) refused"):
        judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)


def test_a_key_the_server_echoes_back_is_masked(server, monkeypatch):
    judge, _ = evaluator(server, monkeypatch)
    ChatServer.replies = [(401, {"error": "key sekrit is revoked"})]
    with pytest.raises(EndpointError, match=r"HTTP 401: .*key \*\*\* is revoked") as err:
        judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)
    assert "sekrit" not in str(err.value)


@pytest.fixture()
def no_network(monkeypatch):
    """Any name lookup or connection fails the test."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError(f"network traffic: {args}")

    for name in ("getaddrinfo", "gethostbyname", "create_connection"):
        monkeypatch.setattr(socket, name, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(
    "url",
    [
        "http://evaluator.example:8000/v1",
        "http://10.0.0.7/v1",
        "http://[2001:db8::1]/v1",
        "http://localhost.evil.example/v1",
        "http://127.0.0.1.evil.example/v1",
    ],
)
def test_plain_http_off_this_machine_is_refused_before_any_traffic(url, monkeypatch, no_network):
    from srlm.core.params import ParamsError

    reason = (
        "plain http to another machine would send the key unencrypted; use https, or set "
        "evaluator.allow_insecure_http: true"
    )
    with pytest.raises(ParamsError) as refused:  # when params are read
        evaluator(url, monkeypatch)
    assert str(refused.value) == f"evaluator.endpoint: {reason}"
    # and the request code refuses it on its own (a config made around the params check)
    with pytest.raises(EndpointError) as err:
        make_evaluator(unchecked(url), EngineParams())
    assert str(err.value) == f"evaluator endpoint {url}: {reason}"
    judge, _ = evaluator(url, monkeypatch, allow_insecure_http=True)  # the explicit opt-in
    assert judge.endpoint == url


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8000/v1",
        "http://127.0.0.1/v1",
        "http://127.3.2.1:9/v1",
        "http://[::1]:8000/v1",
        "https://evaluator.example/v1",
    ],
)
def test_loopback_http_and_https_are_allowed(url, monkeypatch, no_network):
    judge, _ = evaluator(url, monkeypatch)
    assert judge.endpoint == url


@pytest.mark.parametrize(
    "url",
    [
        "https://alice:hunter2@evaluator.example/v1",
        "https://hunter2@evaluator.example/v1",
        "https://alice:hun/ter2@evaluator.example/v1",
        "http://alice:hunter2@127.0.0.1:1/v1",
    ],
)
def test_credentials_in_the_url_are_refused_and_never_shown(url, monkeypatch, no_network):
    from srlm.core.params import ParamsError

    with pytest.raises(ParamsError) as refused:  # when params are read
        evaluator(url, monkeypatch)
    with pytest.raises(EndpointError) as err:  # and by the request code on its own
        make_evaluator(unchecked(url), EngineParams())
    for message in (str(refused.value), str(err.value)):
        assert (
            "credentials in the URL are refused" in message and "evaluator.api_key_env" in message
        )
        assert "hunter2" not in message and "ter2" not in message and "alice" not in message
    identity = evaluator_identity(unchecked(url))["evaluator"]
    assert "hunter2" not in identity and "ter2" not in identity and "alice" not in identity
    assert identity.endswith("/v1#judge-70b") and "@" not in identity


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/v1\r\nX-Injected: 1",
        "http://127.0.0.1:8000/v1\n",
        "http://127.0.0.1:80 00/v1",
        "https://api.example.com/v1\t",
    ],
)
def test_control_characters_in_an_endpoint_url_are_refused(url):
    from srlm.engines.endpoint import check_endpoint

    with pytest.raises(EndpointError, match="control characters .* not allowed in a URL"):
        check_endpoint(url)


def timed_judge(url, monkeypatch, timeout_s):
    monkeypatch.setenv("TEST_EVAL_KEY", "sekrit")
    config = EvaluatorParams(
        endpoint=url, endpoint_model="judge-70b", api_key_env="TEST_EVAL_KEY", timeout_s=timeout_s
    )
    return make_evaluator(config, EngineParams())


class Trickle(BaseHTTPRequestHandler):
    """Answers one byte every 0.2 s: of its headers (`where = "headers"`) or of its body.
    Each byte is well inside any per-read timeout; only a deadline on the request ends it."""

    where = "body"

    def do_POST(self):  # noqa: N802 (the http.server API)
        self.rfile.read(int(self.headers["Content-Length"]))
        head = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
        body = json.dumps(choice("A")[1]).encode().ljust(200)  # 40 s of body at this pace
        if Trickle.where == "headers":
            head += b"X-Padding: " + b"x" * 200 + b"\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n".encode()
        data = head + body
        fast = len(head) if Trickle.where == "body" else data.index(b"X-Padding")
        try:
            self.wfile.write(data[:fast])
            for i in range(fast, len(data)):
                time.sleep(0.2)
                self.wfile.write(data[i : i + 1])
        except OSError:
            pass  # the client hung up: what a deadline does

    def log_message(self, *args):
        pass


class Flood(BaseHTTPRequestHandler):
    """A 200 whose body is 64 MiB of JSON-ish bytes (`declare`: with a Content-Length that
    says so, sending nothing after it). Counts the bytes it managed to send."""

    declare = False
    sent = 0

    def do_POST(self):  # noqa: N802 (the http.server API)
        self.rfile.read(int(self.headers["Content-Length"]))
        total = 64 << 20
        self.send_response(200)
        if Flood.declare:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        if Flood.declare:
            return
        block = b" " * (1 << 16)
        try:
            for _ in range(total // len(block)):
                self.wfile.write(block)
                Flood.sent += len(block)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("where", ["headers", "body"])
def test_timeout_s_is_a_deadline_for_the_whole_request(monkeypatch, where):
    Trickle.where = where
    httpd = _serve(Trickle)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        judge = timed_judge(url, monkeypatch, timeout_s=1)
        start = time.monotonic()
        with pytest.raises(EndpointError) as err:
            judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)
        elapsed = time.monotonic() - start
    finally:
        httpd.shutdown()
    assert str(err.value) == (
        f"evaluator endpoint {url}: no complete reply within "
        "evaluator.timeout_s = 1 s (a deadline for the whole request: "
        "connect, headers and body)"
    )
    assert elapsed < 10  # about 1 s; a per-read timeout would wait the trickle's 40 s out


@pytest.mark.parametrize("declare", [False, True])
def test_a_reply_over_the_cap_is_refused_without_reading_it_all(monkeypatch, declare):
    from srlm.engines.endpoint import MAX_REPLY_BYTES

    Flood.declare, Flood.sent = declare, 0
    httpd = _serve(Flood)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    try:
        judge = timed_judge(url, monkeypatch, timeout_s=30)
        with pytest.raises(EndpointError) as err:
            judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)
    finally:
        httpd.shutdown()
    size = f"{64 << 20:,}" if declare else r"4,[0-9,]+"
    assert re.fullmatch(
        rf"evaluator endpoint {re.escape(url)}: reply of {size}\+ bytes is over the 4 MiB "
        r"limit on one reply \(a verdict is about 1 KB\): is evaluator\.endpoint an "
        r"OpenAI-compatible API\?",
        str(err.value),
    ), str(err.value)
    # The client stopped reading past the cap (the rest stayed in socket buffers or unsent).
    assert Flood.sent < 32 << 20 and (declare or Flood.sent > MAX_REPLY_BYTES)


def test_a_tls_handshake_that_trickles_is_cut_at_the_deadline(monkeypatch):
    """https: the deadline covers the TLS handshake too (the socket is watched from connect)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        with conn:
            try:
                conn.recv(4096)  # the ClientHello
                for byte in b"\x16\x03\x03\x40\x00" + b"\x02" * 95:  # a record, 0.2 s a byte
                    time.sleep(0.2)
                    conn.send(bytes([byte]))
            except OSError:
                pass  # the client hung up at its deadline

    threading.Thread(target=serve, daemon=True).start()
    url = f"https://localhost:{listener.getsockname()[1]}/v1"
    judge = timed_judge(url, monkeypatch, timeout_s=1)
    start = time.monotonic()
    with pytest.raises(EndpointError, match=r"no complete reply within evaluator\.timeout_s = 1 s"):
        judge.option_probabilities([user_request("r", "x")], [""], OPTIONS)
    assert time.monotonic() - start < 10  # the trickle alone would take 20 s
    listener.close()
