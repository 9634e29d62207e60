"""Multi-process training under `accelerate launch`, with the stage's command unchanged.

A training stage checks `accelerate.processes` first (`relaunch`): above 1, it runs itself
again under `accelerate launch` with the same arguments and waits. Each launched process
trains; only the main one writes the model, metrics and CSVs (`main_process_output`).

What is built does not depend on the launch: the global batch, `batch_size x grad_accum` in
params, is divided over the processes (`per_process_batch`), and accelerate gives process `i`
the micro-batches `i, i + N, ...` of the one-process order, so each optimizer step sees the
same examples as with one process and gradient accumulation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from srlm.core.artifacts import atomic_directory
from srlm.core.errors import SrlmError


def launched() -> bool:
    """Whether this process was started by `accelerate launch` (torchrun sets LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def per_process_batch(batch_size: int, grad_accum: int, processes: int, group: str
                      ) -> tuple[int, int]:
    """(per-process batch, accumulation steps) that keep the global batch of one process.

    The accumulation steps are divided first (the micro-batches stay as in params), else the
    batch; a global batch the processes cannot share evenly is a one-line error naming `group`.
    """
    if grad_accum % processes == 0:
        return batch_size, grad_accum // processes
    if (batch_size * grad_accum) % processes == 0 and batch_size % processes == 0:
        return batch_size // processes, grad_accum
    raise SrlmError(
        f"{group}.batch_size x {group}.grad_accum = {batch_size} x {grad_accum} cannot be "
        f"shared evenly by accelerate.processes={processes}: make grad_accum or batch_size a "
        "multiple of it")


def launch_command(config, script: str | Path, arguments: list[str]) -> list[str]:
    """`accelerate launch` of `script` with `arguments` under `config` (`AccelerateConfig`).

    Without a config file it is plain data parallel through torchrun (accelerate's
    `--multi_gpu` launcher, which on CPUs starts gloo processes).
    """
    command = [sys.executable, "-m", "accelerate.commands.launch",
               "--num_processes", str(config.processes), "--num_machines", str(config.machines)]
    if config.config_file:
        if not Path(config.config_file).is_file():
            raise SrlmError(f"accelerate.config_file: {config.config_file} does not exist")
        command += ["--config_file", str(config.config_file)]
    else:
        command += ["--multi_gpu", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return command + [str(script), *arguments]


def relaunch(config, script: str | Path, arguments: list[str]) -> bool:
    """Run `script` under `accelerate launch` when `config.processes` > 1 and this process
    is not already a launched one; True when it ran (the caller then stops)."""
    if config.processes <= 1 or launched():
        return False
    print(f"running {Path(script).name} in {config.processes} processes: "
          f"{' '.join(launch_command(config, script, arguments)[1:6])} ...", file=sys.stderr)
    done = subprocess.run(launch_command(config, script, arguments))
    if done.returncode != 0:
        raise SrlmError(f"{Path(script).stem}: accelerate launch with {config.processes} "
                        f"processes failed (exit {done.returncode}; see the lines above)")
    return True


@contextmanager
def main_process_output(out: str | Path) -> Iterator[Path | None]:
    """The staging folder of the output model on the main process (swapped in on success,
    as `atomic_directory`), None on the others, which write nothing."""
    if not is_main_process():
        yield None
        return
    with atomic_directory(out) as tmp:
        yield tmp
