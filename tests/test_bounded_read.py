"""Every read of a user-named file is bounded (srlm.core.bounded_read): a FIFO, a device, a
folder or an oversize file is one error line naming the path, never a hang or an endless read.

A FIFO is the hostile case for a test: a reader that regressed blocks in `open` forever. So
each FIFO read runs in a thread (`no_hang`); if it is still blocked after a few seconds, the
test opens the FIFO for writing itself, which releases the reader, and fails.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from srlm.cli import main
from srlm.core import bounded_read
from srlm.core.artifacts import read_manifest
from srlm.core.errors import SrlmError
from srlm.core.fingerprints import input_hash
from srlm.core.model_dirs import check_model_dir
from srlm.core.params import load_params
from srlm.evaluation.ifeval import read_ifeval
from srlm.sources.records import load_records
from srlm.tools.metrics_sources import read_folder
from tests.helpers import ROOT


def no_hang(fifo: Path, read, seconds: float = 10.0) -> BaseException | None:
    """What `read()` raised (None if it returned), or a failure if it blocked on `fifo`."""
    outcome: list = []

    def target():
        try:
            read()
            outcome.append(None)
        except BaseException as err:  # noqa: B036 (the test inspects whatever it was)
            outcome.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():  # blocked in open(): give it a writer that closes at once (EOF)
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(seconds)
        pytest.fail(f"reading {fifo} blocked for {seconds} s instead of refusing it")
    return outcome[0]


# Each reader of a user-named file, given the path of the file it reads: (how to call it with
# that path, the path to put the hostile file at, what the error calls it).
def _manifest(path: Path):
    return read_manifest(path.parent)


def _config(path: Path):
    return check_model_dir(path.parent)


def _metrics(path: Path):
    return read_folder(path.parent)


READERS = {
    "params": (load_params, "params.yaml", "params file"),
    "jsonl": (lambda p: load_records(str(p)), "data.jsonl", "data file"),
    "json": (lambda p: load_records(str(p)), "data.json", "data file"),
    "parquet": (lambda p: load_records(str(p)), "data.parquet", "data file"),
    "ifeval": (read_ifeval, "input_data.jsonl", "IFEval file"),
    "manifest": (_manifest, "ift/_manifest.json", "manifest"),
    "model-config": (_config, "m1/config.json", "model config"),
    "metrics": (_metrics, "metrics/judge.json", "metrics file"),
    "input-hash": (input_hash, "input.bin", "file to hash"),
}


def place(tmp_path: Path, relative: str) -> Path:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent.name == "m1":  # a model folder has a tokenizer and weights besides
        (path.parent / "tokenizer.json").write_text("{}")
    return path


@pytest.mark.parametrize("reader", READERS)
def test_a_fifo_is_refused_at_once_by_every_reader(tmp_path, reader):
    read, relative, what = READERS[reader]
    fifo = place(tmp_path, relative)
    os.mkfifo(fifo)
    err = no_hang(fifo, lambda: read(fifo))
    assert isinstance(err, SrlmError), err
    assert (
        str(err)
        == f"{fifo}: is a FIFO (named pipe), not {bounded_read._a(what)} (only a regular file is read)"
    )


# In this process only readers that a regression would not send reading /dev/zero without
# end; the params and IFEval readers are run on it in a child with a memory cap (below).
@pytest.mark.parametrize("reader", ["jsonl", "json", "manifest", "metrics", "model-config"])
def test_a_link_to_dev_zero_is_refused_not_read_forever(tmp_path, reader):
    read, relative, what = READERS[reader]
    link = place(tmp_path, relative)
    link.symlink_to("/dev/zero")
    with pytest.raises(SrlmError) as caught:
        read(link)
    assert str(caught.value) == (
        f"{link}: is a character device, not {bounded_read._a(what)} (only a regular file is read)"
    )


@pytest.mark.parametrize("reader", ["jsonl", "json", "ifeval", "manifest", "model-config"])
def test_a_folder_is_refused_by_name(tmp_path, reader):
    read, relative, what = READERS[reader]
    folder = place(tmp_path, relative)
    folder.mkdir()
    with pytest.raises(SrlmError) as caught:
        read(folder)
    assert str(caught.value) == f"{folder}: is a folder, not {bounded_read._a(what)}"


def test_an_oversize_params_file_names_its_size_and_the_limit(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("# padding\n" * (bounded_read.PARAMS_LIMIT // 10 + 1))  # valid YAML
    with pytest.raises(SrlmError) as caught:
        load_params(path)
    size = path.stat().st_size
    assert str(caught.value) == f"{path}: {size:,} bytes, over the 1 MiB limit on a params file"


def test_an_oversize_manifest_is_refused_before_it_is_read(tmp_path):
    manifest = tmp_path / "ift" / "_manifest.json"
    manifest.parent.mkdir()
    with open(manifest, "wb") as handle:  # sparse: 16 MiB + 1 byte of disk it never takes
        handle.truncate(bounded_read.METADATA_LIMIT + 1)
    with pytest.raises(
        SrlmError,
        match=r"_manifest\.json: 16,777,217 bytes, over the 16 MiB "
        "limit on a manifest",
    ):
        read_manifest(manifest.parent)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_an_oversize_data_file_is_refused(tmp_path, monkeypatch, suffix):
    # The data limit is 2 GiB; the readers' copy of it is lowered rather than 2 GiB written.
    monkeypatch.setattr("srlm.sources.records.DATA_LIMIT", bounded_read.MIB)
    path = tmp_path / f"data{suffix}"
    path.write_text(json.dumps([{"prompt": "x" * bounded_read.MIB, "response": "y"}]) + "\n")
    with pytest.raises(SrlmError) as caught:
        load_records(str(path))
    assert str(caught.value) == (
        f"{path}: {path.stat().st_size:,} bytes, over the 1 MiB limit on a data file"
    )


def test_a_data_file_that_grows_while_read_is_stopped_at_the_limit(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"{}\n" * 10)
    with bounded_read.open_regular(path, "data file", 30) as handle:
        path.write_bytes(b"{}\n" * 1000)  # same inode, rewritten bigger after the check
        with pytest.raises(SrlmError, match="grew past the .* limit on a data file"):
            list(bounded_read.read_lines(handle, path, "data file", 30))


def test_the_limits_leave_headroom_over_the_repository_s_own_files():
    """Each limit far above the biggest real file of its kind, so only a wrong path hits it."""
    params = [ROOT / "params.yaml", *(ROOT / "profiles").glob("*.yaml")]
    data = [*(ROOT / "data" / "raw").rglob("*.jsonl"), *(ROOT / "srlm" / "seed_data").glob("*")]
    assert max(p.stat().st_size for p in params) * 100 < bounded_read.PARAMS_LIMIT
    assert max(p.stat().st_size for p in data) * 100 < bounded_read.DATA_LIMIT
    assert load_params(ROOT / "params.yaml")  # and the real files still read
    assert len(read_ifeval(ROOT / "data" / "raw" / "ifeval" / "input_data.jsonl")) > 500


def test_srlm_params_on_a_fifo_is_one_error_line(tmp_path, capsys):
    fifo = tmp_path / "params.yaml"
    os.mkfifo(fifo)
    codes: list[int] = []
    assert no_hang(fifo, lambda: codes.append(main(["params", "--file", str(fifo)]))) is None
    assert codes == [1]
    assert capsys.readouterr().err == (
        f"error: srlm params: {fifo}: is a FIFO (named pipe), "
        "not a params file (only a regular file is read)\n"
    )


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a regression fails, not swaps


def _child(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_the_cli_refuses_a_fifo_or_dev_zero_as_params(tmp_path, kind):
    """The real `srlm` process: one error line and exit 1, in seconds (a regression would hang
    on the FIFO or read /dev/zero until killed)."""
    path = tmp_path / "params.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    result = _child("-m", "srlm.cli", "params", "--file", str(path))
    shown = "a FIFO (named pipe)" if kind == "fifo" else "a character device"
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"error: srlm params: {path}: is {shown}, not a params file (only a regular file is read)\n"
    )


@pytest.mark.integration
def test_an_ifeval_file_linked_to_dev_zero_is_refused(tmp_path):
    path = tmp_path / "input_data.jsonl"
    path.symlink_to("/dev/zero")
    result = _child(
        "-c",
        "import sys; from srlm.evaluation.ifeval import read_ifeval\n"
        "try: read_ifeval(sys.argv[1])\nexcept ValueError as e: print(e)",
        str(path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{path}: is a character device, not an IFEval file (only a regular file is read)\n"
    )


@pytest.mark.parametrize("size", [0, 1, 4096, bounded_read.MIB + 7])
def test_read_bytes_reads_a_regular_file_whole_and_no_more_than_the_limit(tmp_path, size):
    path = tmp_path / "f.bin"
    path.write_bytes(os.urandom(size))
    assert bounded_read.read_bytes(path, "data file", bounded_read.DATA_LIMIT) == path.read_bytes()
    assert bounded_read.read_bytes(path, "data file", size) == path.read_bytes()  # at the limit
    if size:
        with pytest.raises(SrlmError, match=f"{size:,} bytes, over the {size - 1:,} bytes limit"):
            bounded_read.read_bytes(path, "data file", size - 1)
