"""Multi-process training under `accelerate launch`, with the stage's command unchanged.

A training stage checks `accelerate.processes` first (`relaunch`): above 1, it runs itself
again under `accelerate launch` with the same arguments and waits. Each launched process
trains; only the main one writes the model (and its record), metrics and CSVs
(`main_process_output`).

What is built does not depend on the launch: the global batch, `batch_size x grad_accum` in
params, is divided over the processes (`per_process_batch`), and accelerate gives process `i`
the micro-batches `i, i + N, ...` of the one-process order, so each optimizer step sees the
same examples as with one process and gradient accumulation.

No launched process outlives the stage: the launcher gets SIGTERM when the stage dies (its
torchrun agent then stops the ranks), and each rank gets SIGKILL when the launcher dies, so a
`kill -9` of the stage leaves no process training (and later writing) behind. What can be
checked before the launch (the batch split) is checked before it, once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from srlm.core.errors import SrlmError
from srlm.core.lifetime import die_with_parent
from srlm.core.model_identity import model_directory

# A folder every launched process of one stage run shares (set by `relaunch`).
SHARED_DIR_VARIABLE = "SRLM_LAUNCH_DIR"


def launched() -> bool:
    """Whether this process was started by `accelerate launch` (torchrun sets LOCAL_RANK)."""
    return "LOCAL_RANK" in os.environ


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def per_process_batch(
    batch_size: int, grad_accum: int, processes: int, group: str
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
        "multiple of it"
    )


def launch_command(config, script: str | Path, arguments: list[str]) -> list[str]:
    """`accelerate launch` of `script` with `arguments` under `config` (`AccelerateParams`).

    Without a config file it is plain data parallel through torchrun (accelerate's
    `--multi_gpu` launcher, which on CPUs starts gloo processes).
    """
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--num_processes",
        str(config.processes),
        "--num_machines",
        str(config.machines),
    ]
    if config.config_file:
        if not Path(config.config_file).is_file():
            raise SrlmError(f"accelerate.config_file: {config.config_file} does not exist")
        command += ["--config_file", str(config.config_file)]
    else:
        command += ["--multi_gpu", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return command + [str(script), *arguments]


def relaunch(
    config, script: str | Path, arguments: list[str], training=None, group: str = "training"
) -> bool:
    """Run `script` under `accelerate launch` when `config.processes` > 1 and this process
    is not already a launched one; True when it ran (the caller then stops).

    `training` (the stage's `SFTParams`/`DPOParams`, named `group`) is checked first: a batch
    the processes cannot share is one line here, not one per rank and a torchrun traceback."""
    if launched():
        die_with_parent(signal.SIGKILL)  # a rank never trains on once its launcher is gone
        return False
    if config.processes <= 1:
        return False
    if training is not None:
        per_process_batch(training.batch_size, training.grad_accum, config.processes, group)
    print(
        f"running {Path(script).name} in {config.processes} processes: "
        f"{' '.join(launch_command(config, script, arguments)[1:6])} ...",
        file=sys.stderr,
    )
    shared = tempfile.mkdtemp(prefix="srlm-launch-")
    try:
        done = subprocess.run(
            launch_command(config, script, arguments),
            env={**os.environ, SHARED_DIR_VARIABLE: shared},
            preexec_fn=_launcher_dies_with_stage,
        )
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    if done.returncode != 0:
        raise SrlmError(
            f"{Path(script).stem}: accelerate launch with {config.processes} "
            f"processes failed (exit {done.returncode}; see the lines above)"
        )
    return True


def _launcher_dies_with_stage() -> None:
    # SIGTERM, not SIGKILL: torchrun's agent stops its ranks on SIGTERM (and they would die
    # with it anyway, see `relaunch`)
    die_with_parent(signal.SIGTERM)


@contextmanager
def main_process_output(out: str | Path, written_by: str) -> Iterator[Path | None]:
    """The staging folder of the output model on the main process (recorded and swapped in
    on success, as `model_directory`), None on the others, which write nothing (the record
    included: one process hashes the folder it wrote)."""
    if not is_main_process():
        yield None
        return
    with model_directory(out, written_by) as tmp:
        yield tmp


def shared_dataset(records: list[dict]):
    """`records` as a `datasets.Dataset`; under `accelerate launch`, one that every process
    reads from the same folder.

    TRL caches DPO's precomputed reference log-probs next to the dataset's files, by a
    fingerprint rank 0 broadcasts, and every rank then opens rank 0's file: an in-memory
    dataset's cache lies in a temporary folder of each process, which the others cannot see.
    Call it after the training arguments exist (they start the process group).
    """
    import datasets

    dataset = datasets.Dataset.from_list(records)
    root = os.environ.get(SHARED_DIR_VARIABLE)
    if not launched() or root is None:
        return dataset
    from accelerate import PartialState

    folder = Path(root) / "dataset"
    with PartialState().main_process_first():
        if is_main_process():
            dataset.save_to_disk(str(folder))
    return datasets.load_from_disk(str(folder))
