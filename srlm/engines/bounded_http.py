"""One HTTP request with a deadline for the whole of it and a cap on the reply's size.

urllib's `timeout` bounds each socket operation, not the request: a server that sends one
byte every half second keeps a `timeout=2` request waiting for as long as it likes, and
`response.read()` takes a reply of any size. Here:

- `Deadline(seconds)`: a monotonic deadline for connect, TLS handshake, headers and body
  together. Every socket the request opens is registered with it (through `opener`), and a
  timer shuts the sockets down when the deadline passes, which ends any read or write blocked
  on them at once; `expired` then says why the request failed. Name resolution (DNS) happens
  before a socket exists and is bounded by the system resolver's own timeout, not by this.
- `opener(deadline, *handlers)`: a urllib opener whose HTTP and HTTPS connections register
  their sockets with `deadline` (proxies, TLS and the given handlers work as usual);
- `read_capped(response, max_bytes, deadline)`: the body in chunks, refused as soon as it is
  over `max_bytes` (before any byte is read when `Content-Length` already says so).
"""

from __future__ import annotations

import functools
import http.client
import socket
import threading
import time
import urllib.request
from typing import Any

_CHUNK = 64 * 1024


class DeadlinePassed(Exception):
    """The request did not complete before its deadline."""


class ReplyTooLarge(Exception):
    """The reply is over the cap; `size` is its declared or read size so far."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class Deadline:
    """A deadline for one request; use as a context manager around the request and its read."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def remaining(self) -> float:
        """Seconds left; `DeadlinePassed` when none are."""
        left = self.end - time.monotonic()
        if left <= 0 or self.expired:
            raise DeadlinePassed()
        return left

    def explains(self, err: BaseException) -> bool:
        """Whether `err`, raised by the request, is the deadline passing: the timer fired, or
        a socket timed out (each socket's timeout is the time that was left when it opened,
        so a socket operation that times out ends at the deadline, a hair before the timer
        fires; urllib wraps it in a `URLError`)."""
        return (
            self.expired
            or isinstance(err, (DeadlinePassed, TimeoutError))
            or isinstance(getattr(err, "reason", None), TimeoutError)
        )

    def expire(self) -> None:
        """Shut every registered socket down: a blocked `recv` returns, a `send` fails."""
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed by the peer or by us

    def connect(
        self, address: tuple[str, int], timeout: Any = None, source_address: Any = None
    ) -> socket.socket:
        """`socket.create_connection`, within the time left, and registered: the watch is a
        duplicate descriptor of the socket (shutting it down shuts the connection down), owned
        by the deadline, so it stays valid when TLS takes the original over, and closing the
        connection never leaves the timer a stale descriptor number."""
        sock = socket.create_connection(address, self.remaining(), source_address)
        with self._lock:
            self._sockets.append(sock.dup())
            if self.expired:
                sock.close()
                raise DeadlinePassed()
        return sock


class _Watched:
    """An `http.client` connection that makes its sockets with `deadline.connect`."""

    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # `_create_connection` is http.client's own factory for the connection's socket
        # (`socket.create_connection` by default; its tests replace it the same way).
        self._create_connection = deadline.connect


class _WatchedHTTP(_Watched, http.client.HTTPConnection):
    pass


class _WatchedHTTPS(_Watched, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline):
        super().__init__()
        self.deadline = deadline

    def http_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTP, deadline=self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline):
        super().__init__()  # no context given: http.client's default, verified TLS
        self.deadline = deadline

    def https_open(self, req):
        return self.do_open(functools.partial(_WatchedHTTPS, deadline=self.deadline), req)


def opener(
    deadline: Deadline, *handlers: urllib.request.BaseHandler
) -> urllib.request.OpenerDirector:
    """A urllib opener whose connections are bounded by `deadline`, with `handlers` added."""
    return urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline), *handlers)


def read_capped(response: http.client.HTTPResponse, max_bytes: int, deadline: Deadline) -> bytes:
    """The body of `response`: `ReplyTooLarge` once over `max_bytes`, `DeadlinePassed` once
    the deadline is (a body cut short by the deadline's shutdown is not taken as complete)."""
    declared = response.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise ReplyTooLarge(int(declared))
    parts, size = [], 0
    while True:
        deadline.remaining()
        chunk = response.read1(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise ReplyTooLarge(size)
        parts.append(chunk)
    if deadline.expired:
        raise DeadlinePassed()
    return b"".join(parts)
