"""A test double of an OpenAI-compatible chat server, for the loop's judge through an endpoint.

`JudgeServer` answers `POST /v1/chat/completions` in threads (so concurrent requests overlap)
with `n` judgments `Looks fine.\\nScore: S`, S = (seed + sample) mod 6, and, when asked and
`logprobs` is on, the tokens of that text with top logprobs at the score: " S" 0.7, "S" 0.05,
" S+1" 0.2 (mod 6), "\\n" 0.01. It records every request (body, `Authorization`, time), the
most requests it held at once, and answers from `script` first: `(status, headers)` entries,
or "drop" to close the connection without a reply.
"""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOP = (0.7, 0.05, 0.2, 0.01)  # " S", "S", " S+1", "\n"


def judgment(seed: int, sample: int) -> int:
    """The score the double writes for a request's `sample`."""
    return (seed + sample) % 6


def score_probs(score: int) -> list[float]:
    """What the judge should read from the double's logprobs for `score`."""
    probs = [0.0] * 6
    probs[score] += TOP[0] + TOP[1]
    probs[(score + 1) % 6] += TOP[2]
    return probs


def _choice(index: int, score: int, logprobs: bool) -> dict:
    tokens = ["Looks", " fine", ".", "\n", "Score", ":", f" {score}"]
    choice: dict = {
        "index": index,
        "message": {"role": "assistant", "content": f"Looks fine.\nScore: {score}"},
        "finish_reason": "stop",
    }
    if logprobs:
        top = [
            {"token": f" {score}", "logprob": math.log(TOP[0])},
            {"token": f"{score}", "logprob": math.log(TOP[1])},
            {"token": f" {(score + 1) % 6}", "logprob": math.log(TOP[2])},
            {"token": "\n", "logprob": math.log(TOP[3])},
        ]
        steps = [
            {"token": t, "logprob": -0.1, "top_logprobs": [{"token": t, "logprob": -0.1}]}
            for t in tokens[:-1]
        ]
        steps.append({"token": tokens[-1], "logprob": math.log(TOP[0]), "top_logprobs": top})
        choice["logprobs"] = {"content": steps}
    return choice


class JudgeServer:
    """See the module docstring; `start()` returns the base URL (`.../v1`)."""

    def __init__(self, delay: float = 0.0, logprobs: bool = True, echo: str = ""):
        self.delay, self.logprobs, self.echo = delay, logprobs, echo
        self.script: list = []
        self.fail_from: int | None = None  # from this many requests on: HTTP 500
        self.seen: list[tuple[dict, str | None, float]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    def start(self) -> str:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                state.handle(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    def bodies(self) -> list[dict]:
        return [body for body, _, _ in self.seen]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])))
        with self.lock:
            self.seen.append((body, handler.headers.get("Authorization"), time.monotonic()))
            count = len(self.seen)
            step = self.script.pop(0) if self.script else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            if step == "drop":
                handler.close_connection = True
                return
            if step is None and self.fail_from is not None and count > self.fail_from:
                step = (500, {})
            if step is not None:
                status, headers = step
                self._send(handler, status, {"error": f"busy {self.echo}"}, headers)
                return
            want = bool(body.get("logprobs")) and self.logprobs
            choices = [_choice(i, judgment(body["seed"], i), want) for i in range(body.get("n", 1))]
            usage = {"prompt_tokens": 100, "completion_tokens": 7 * len(choices)}
            self._send(handler, 200, {"choices": choices, "usage": usage}, {})
        finally:
            with self.lock:
                self.in_flight -= 1

    @staticmethod
    def _send(handler, status: int, payload: dict, headers: dict) -> None:
        data = json.dumps(payload).encode()
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
