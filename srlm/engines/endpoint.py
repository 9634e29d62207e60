"""An OpenAI-compatible chat endpoint as the fixed evaluator of head-to-head comparisons.

For users who have a strong model behind an API (`evaluator.endpoint` in params, e.g.
`http://localhost:8000/v1` for a vLLM server, or a hosted one): each comparison is one
`POST {endpoint}/chat/completions` at temperature 0 asking for one letter. When the server
returns `top_logprobs` the option probabilities come from them; otherwise the letter the
reply starts with gets probability 1. The API key, if any, is read from the environment
variable named by `evaluator.api_key_env`, never from params.

The key goes to the configured origin and nowhere else:
- redirects are never followed (a 3xx answer is an `EndpointError` naming the endpoint and the
  `Location`): urllib would resend the `Authorization` header to whatever origin a redirect
  names, and accept that origin's verdicts;
- plain `http://` is refused unless the host is this machine (`localhost`, 127.0.0.0/8, `::1`,
  read from the URL as written: nothing is resolved) or `evaluator.allow_insecure_http` is true;
- a URL with credentials in it (`https://user:pass@host/v1`) is refused: params are tracked in
  git and recorded by DVC, so a secret there is already leaked; the key belongs in the
  environment variable. Every URL this module reports (`public_url`) has its userinfo removed,
  and an error never contains the key.

Every request is bounded (`srlm.engines.bounded_http`): `evaluator.timeout_s` is a deadline for
the whole request (connect, headers and body), not a limit on each socket read that a server
sending a byte at a time could stretch forever, and a reply over `MAX_REPLY_BYTES` is refused
as soon as it is known to be, without reading the rest.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import math
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

from tqdm.auto import tqdm

from srlm.core.errors import SrlmError
from srlm.engines.bounded_http import (
    Deadline,
    DeadlinePassed,
    ReplyTooLarge,
    opener,
    read_capped,
)
from srlm.runtime.requests import GenerationRequest

_LETTER = re.compile(r"[A-Za-z]+")
_USERINFO = re.compile(r"[^:/?#]*://([^?#]*@)")
# A reply is one chat completion of `max_tokens` (4) tokens with 5 top logprobs: about 1 KB.
# 4 MiB leaves room for any server's verbose envelope, and no more: a bigger reply is not an
# answer to this request (a wrong URL serving a file, a hostile server), so no param.
MAX_REPLY_BYTES = 4 << 20
# What an error quotes of an error reply's body: its first 200 characters are shown.
_ERROR_BODY_BYTES = 4096


class EndpointError(SrlmError):
    """The evaluator endpoint could not be reached or answered something unusable."""


def _userinfo(url: str) -> re.Match | None:
    """The `user:pass@` of `url`: up to its last `@` before any `?` or `#`, so that a password
    with a `/` in it (which URL parsers read as the start of the path) is caught too."""
    return _USERINFO.match(url)


def public_url(url: str) -> str:
    """`url` without its userinfo (`user:pass@`), safe to print, fingerprint and record."""
    found = _userinfo(url)
    return url if found is None else url[: found.start(1)] + url[found.end(1) :]


def _is_loopback(host: str) -> bool:
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost: never resolved here


def check_endpoint(url: str, allow_insecure_http: bool = False) -> str:
    """The endpoint URL without a trailing slash, or a one-line `EndpointError`: not http(s),
    credentials in the URL, or plain http to another machine without `allow_insecure_http`."""
    shown = public_url(url)
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        # CR/LF in a URL is header injection (an extra header line in the request)
        raise EndpointError(
            f"evaluator endpoint {shown!r}: spaces and control characters "
            "(CR, LF, tab) are not allowed in a URL"
        )
    if _userinfo(url):  # first: a parse error could quote a piece of the password
        raise EndpointError(
            f"evaluator endpoint {shown}: credentials in the URL are refused (params are "
            "recorded in git and DVC); put the key in the variable named by "
            "evaluator.api_key_env"
        )
    try:
        parts = urllib.parse.urlsplit(url)
        host, _ = parts.hostname or "", parts.port  # .port raises on a bad port
    except ValueError as err:
        raise EndpointError(f"evaluator endpoint {shown}: not a valid URL ({err})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise EndpointError(f"evaluator endpoint {shown}: expected an http(s) URL with a host")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(host):
        raise EndpointError(
            f"evaluator endpoint {shown}: plain http to another machine would send the key "
            "unencrypted; use https, or set evaluator.allow_insecure_http: true"
        )
    return url.rstrip("/")


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """No redirect is followed: the 3xx answer reaches the caller as an `HTTPError`."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class EndpointEvaluator:
    def __init__(
        self,
        endpoint: str,
        model: str,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        max_tokens: int = 4,
        allow_insecure_http: bool = False,
    ):
        self.endpoint = check_endpoint(endpoint, allow_insecure_http)
        self.model = model
        self.model_id = f"{self.endpoint}#{model}"
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self.api_key = os.environ.get(api_key_env) if api_key_env else None

    def _post(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            f"{self.endpoint}/chat/completions", data=json.dumps(body).encode(), headers=headers
        )
        with Deadline(self.timeout_s) as deadline:
            try:
                with opener(deadline, _RefuseRedirects()).open(
                    request, timeout=self.timeout_s
                ) as response:
                    data = read_capped(response, MAX_REPLY_BYTES, deadline)
            except urllib.error.HTTPError as err:
                raise self._http_error(err) from None
            except ReplyTooLarge as err:
                raise EndpointError(
                    f"evaluator endpoint {self.endpoint}: reply of {err.size:,}+ bytes is over "
                    f"the {MAX_REPLY_BYTES >> 20} MiB limit on one reply (a verdict is about "
                    "1 KB): is evaluator.endpoint an OpenAI-compatible API?"
                ) from None
            except (
                DeadlinePassed,
                urllib.error.URLError,
                OSError,
                http.client.HTTPException,
            ) as err:
                if deadline.explains(err):
                    raise EndpointError(
                        f"evaluator endpoint {self.endpoint}: no complete reply within "
                        f"evaluator.timeout_s = {self.timeout_s:g} s (a deadline for the whole "
                        "request: connect, headers and body)"
                    ) from None
                reason = getattr(err, "reason", None) or str(err) or type(err).__name__
                raise EndpointError(f"evaluator endpoint {self.endpoint}: {reason}") from None
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise EndpointError(f"evaluator endpoint {self.endpoint}: reply is not JSON") from None

    def _http_error(self, err: urllib.error.HTTPError) -> EndpointError:
        """A non-2xx answer as one line: a redirect (never followed) or the status and the
        start of the body (at most `_ERROR_BODY_BYTES` of it are read)."""
        if 300 <= err.code < 400:
            location = public_url(" ".join((err.headers.get("Location") or "").split()))
            return EndpointError(
                f"evaluator endpoint {self.endpoint}: HTTP {err.code} redirect to "
                f"{self._redact(location[:200]) or '(no Location)'} refused: redirects are "
                "never followed (set evaluator.endpoint to the final URL)"
            )
        try:
            detail = err.read(_ERROR_BODY_BYTES).decode("utf-8", "replace")[:200]
        except (OSError, http.client.HTTPException):  # cut off by the deadline: status only
            detail = ""
        finally:
            err.close()
        return EndpointError(
            f"evaluator endpoint {self.endpoint}: HTTP {err.code}: "
            f"{self._redact(' '.join(detail.split()))}"
        )

    def _redact(self, text: str) -> str:
        """`text` (from the server) with the key masked, should the server echo it back."""
        return text.replace(self.api_key, "***") if self.api_key else text

    def _probabilities(self, reply: dict, options: Sequence[str]) -> list[float]:
        letters = [o.strip() for o in options]
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise EndpointError(
                f"evaluator endpoint {self.endpoint}: no choices[0].message in the reply"
            ) from None
        top = ((choice.get("logprobs") or {}).get("content") or [{}])[0].get("top_logprobs")
        if top:
            found = {}
            for entry in top:
                token = entry.get("token", "").strip()
                if token in letters and token not in found:
                    found[token] = math.exp(entry["logprob"])
            return [found.get(letter, 0.0) for letter in letters]
        first = _LETTER.search(text)
        word = first.group(0) if first else ""
        return [1.0 if word == letter else 0.0 for letter in letters]

    def option_probabilities(
        self,
        requests: Sequence[GenerationRequest],
        prefixes: Sequence[str],
        options: Sequence[str],
    ) -> list[list[float]]:
        """One chat completion per request; the prefixes are not sent (chat APIs cannot
        continue an assistant turn), the comparison prompt itself asks for the letter."""
        out = []
        for request in tqdm(requests, desc="evaluator", unit="request"):
            reply = self._post(
                {
                    "model": self.model,
                    "messages": request.chat(),
                    "temperature": 0,
                    "max_tokens": self.max_tokens,
                    "logprobs": True,
                    "top_logprobs": 5,
                }
            )
            out.append(self._probabilities(reply, options))
        return out
