"""One JSON POST to an endpoint through httpx, with every rule the key needs.

`JsonEndpoint(url, group, timeout_s, api_key, allow_insecure_http)` checks the URL first
(`srlm.core.endpoint_url`: no credentials, no control characters, plain http only to this
machine unless allowed), then `post(client, path, body)` makes one request:

- redirects are never followed (httpx's default, kept explicit): a 3xx answer is an
  `EndpointError` naming the `Location` without its userinfo. Following one would resend the
  `Authorization` header to whatever origin it names, and accept that origin's answers;
- `timeout_s` is a deadline for the whole request (connect, TLS handshake, headers and body):
  the request runs under `asyncio.timeout`, which cancels it wherever it waits, so a server
  trickling a byte at a time (each read well inside httpx's per-read timeout) is cut at the
  deadline. Name resolution runs in a worker thread and is abandoned at the deadline too;
- the reply is streamed and refused as soon as it is over `MAX_REPLY_BYTES` (before any byte
  is read when `Content-Length` already says so). `Accept-Encoding: identity` is sent and a
  compressed reply refused, so the cap is on the bytes parsed (no decompression bomb);
- the key goes in the `Authorization` header only, and every message masks it should a server
  echo it back. Proxies from the environment are used for https only: an http endpoint (this
  machine, or `allow_insecure_http`) is reached directly, never through a proxy in clear text.

Errors are one line naming the endpoint; `RetryableError` marks what a retry may cure (429,
5xx, a connection that failed or broke, a deadline passed), with the server's `Retry-After`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx

from srlm.core.endpoint_url import public_url, url_problem
from srlm.core.errors import SrlmError

# A reply is one chat completion: a few KB even with n samples and 20 top logprobs a token.
# 4 MiB leaves room for any server's verbose envelope, and no more: a bigger reply is not an
# answer to this request (a wrong URL serving a file, a hostile server), so no param.
MAX_REPLY_BYTES = 4 << 20
# What an error quotes of an error reply's body: its first 200 characters are shown.
_ERROR_BODY_BYTES = 4096
T = TypeVar("T")


class EndpointError(SrlmError):
    """The endpoint could not be reached or answered something unusable."""


class RetryableError(EndpointError):
    """A failure a later attempt may not meet: 429, 5xx, a connection error, the deadline.
    `retry_after`: the seconds the server asked to wait (`Retry-After`), when it did."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def check_endpoint(url: str, allow_insecure_http: bool = False, group: str = "evaluator") -> str:
    """The endpoint URL without a trailing slash, or a one-line `EndpointError` (the rules of
    `srlm.core.endpoint_url`) that never shows the URL's credentials."""
    problem = url_problem(url, allow_insecure_http, group)
    if problem is not None:
        shown = public_url(url)
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
            shown = repr(shown)  # the control characters themselves, visibly
        raise EndpointError(f"{group} endpoint {shown}: {problem}")
    return url.rstrip("/")


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """The seconds a `Retry-After` header asks for (a number, or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def run_sync(coroutine: Awaitable[T]) -> T:
    """Run `coroutine` to the end from synchronous code, in a thread of its own when this
    thread already runs an event loop (a notebook)."""

    async def main() -> T:
        return await coroutine

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


class JsonEndpoint:
    """An endpoint's base URL, checked, and how to POST JSON to it (the module docstring).
    `group` names the params group in every message (`evaluator`, `judge`)."""

    def __init__(
        self,
        url: str,
        group: str,
        timeout_s: float,
        api_key: str | None = None,
        allow_insecure_http: bool = False,
        typical_reply: str = "a verdict is about 1 KB",
    ):
        self.url = check_endpoint(url, allow_insecure_http, group)
        self.group, self.timeout_s = group, timeout_s
        self.typical_reply = typical_reply  # what an error about a reply's size compares with
        self._key = api_key or None  # never in a message, a repr or a file

    def __repr__(self) -> str:
        return f"JsonEndpoint({self.url!r}, {self.group!r})"

    def client(self, connections: int = 1) -> httpx.AsyncClient:
        """A client for up to `connections` requests at once. httpx's own per-operation
        timeouts are the deadline too; the deadline itself is `post`'s."""
        return httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(self.timeout_s),
            limits=httpx.Limits(max_connections=connections),
            trust_env=self.url.startswith("https://"),
        )

    def error(self, text: str) -> EndpointError:
        """A one-line error about this endpoint."""
        return EndpointError(f"{self.group} endpoint {self.url}: {text}")

    def redact(self, text: str) -> str:
        """`text` (from the server) with the key masked, should the server echo it back."""
        return text.replace(self._key, "***") if self._key else text

    async def post(self, client: httpx.AsyncClient, path: str, body: dict) -> dict:
        """One POST of `body` as JSON to `{url}{path}` within `timeout_s` in all; the reply's
        JSON object, or an `EndpointError` (a `RetryableError` where a retry may help)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                data = await self._exchange(client, path, body)
        except (TimeoutError, httpx.TimeoutException):
            raise RetryableError(
                f"{self.group} endpoint {self.url}: no complete reply within {self.group}."
                f"timeout_s = {self.timeout_s:g} s (a deadline for the whole request: connect, "
                "headers and body)"
            ) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as err:
            reason = self.redact(" ".join((str(err) or type(err).__name__).split()))
            raise RetryableError(f"{self.group} endpoint {self.url}: {reason}") from None
        except httpx.HTTPError as err:  # a proxy or protocol refusal: no retry cures it
            reason = self.redact(" ".join((str(err) or type(err).__name__).split()))
            raise self.error(reason) from None
        try:
            reply = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self.error("reply is not JSON") from None
        if not isinstance(reply, dict):
            raise self.error("reply is not a JSON object")
        return reply

    async def _exchange(self, client: httpx.AsyncClient, path: str, body: dict) -> bytes:
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        content = json.dumps(body).encode()
        async with client.stream(
            "POST", f"{self.url}{path}", content=content, headers=headers
        ) as response:
            if response.status_code >= 300:
                raise await self._status_error(response)
            return await self._read_capped(response)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
            raise self._too_large(int(declared))
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise self.error(
                f"reply compressed with {encoding[:40]!r} although identity was asked for"
            )
        parts, size = [], 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise self._too_large(size)  # leaving the stream closes the connection
            parts.append(chunk)
        return b"".join(parts)

    def _too_large(self, size: int) -> EndpointError:
        return self.error(
            f"reply of {size:,}+ bytes is over the {MAX_REPLY_BYTES >> 20} MiB limit on one "
            f"reply ({self.typical_reply}): is {self.group}.endpoint an OpenAI-compatible API?"
        )

    async def _status_error(self, response: httpx.Response) -> EndpointError:
        """A non-2xx answer as one line: a redirect (never followed) or the status and the
        start of the body (at most `_ERROR_BODY_BYTES` of it are read)."""
        code = response.status_code
        if code < 400:
            location = public_url(" ".join(response.headers.get("Location", "").split()))
            return self.error(
                f"HTTP {code} redirect to {self.redact(location[:200]) or '(no Location)'} "
                f"refused: redirects are never followed (set {self.group}.endpoint to the "
                "final URL)"
            )
        data = b""
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) >= _ERROR_BODY_BYTES:
                break
        detail = data[:_ERROR_BODY_BYTES].decode("utf-8", "replace")[:200]
        message = f"{self.group} endpoint {self.url}: HTTP {code}: "
        message += self.redact(" ".join(detail.split()))
        if code == 429 or code >= 500:
            return RetryableError(message, retry_after(response.headers.get("Retry-After")))
        return EndpointError(message)
