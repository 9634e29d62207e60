"""The rules an endpoint URL must pass before any request is made to it, as plain text checks.

An endpoint (the evaluator's, the loop's judge's) receives the API key, so its URL is checked
as written, before anything is resolved or sent (`url_problem`):
- no spaces or control characters: CR/LF in a URL is header injection;
- no credentials (`https://user:pass@host/v1`): params are tracked in git and recorded by DVC,
  so a secret there is already leaked; the key belongs in an environment variable;
- an http(s) URL with a host and a valid port;
- plain `http://` only to this machine (`localhost`, 127.0.0.0/8, `::1`, read from the URL:
  nothing is resolved) unless the params' `allow_insecure_http` says otherwise.

`public_url` is the URL without its userinfo, the only form that is printed, fingerprinted or
recorded. No I/O here: the params layer runs these checks when a params file is read.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

_USERINFO = re.compile(r"[^:/?#]*://([^?#]*@)")


def _userinfo(url: str) -> re.Match | None:
    """The `user:pass@` of `url`: up to its last `@` before any `?` or `#`, so that a password
    with a `/` in it (which URL parsers read as the start of the path) is caught too."""
    return _USERINFO.match(url)


def public_url(url: str) -> str:
    """`url` without its userinfo (`user:pass@`), safe to print, fingerprint and record."""
    found = _userinfo(url)
    return url if found is None else url[: found.start(1)] + url[found.end(1) :]


def is_loopback(host: str) -> bool:
    """Whether `host`, as written in a URL, is this machine (never resolved)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost: never resolved here


def url_problem(url: str, allow_insecure_http: bool, group: str) -> str | None:
    """Why `url` may not be used as `group`'s endpoint (one line that never quotes the URL's
    credentials), or None when it may. `group` names the params keys the reasons point at."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        return "spaces and control characters (CR, LF, tab) are not allowed in a URL"
    if _userinfo(url):  # first: a parse error could quote a piece of the password
        return (
            "credentials in the URL are refused (params are recorded in git and DVC); put "
            f"the key in the variable named by {group}.api_key_env"
        )
    try:
        parts = urllib.parse.urlsplit(url)  # parsing only: no request is made here
        host, _ = parts.hostname or "", parts.port  # .port raises on a bad port
    except ValueError as err:
        return f"not a valid URL ({err})"
    if parts.scheme not in ("http", "https") or not host:
        return "expected an http(s) URL with a host"
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(host):
        return (
            "plain http to another machine would send the key unencrypted; use https, or "
            f"set {group}.allow_insecure_http: true"
        )
    return None
