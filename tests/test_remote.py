"""Sharing artifacts through DVC remotes: push from one clone, pull into a fresh one.

Runs the whole pipeline on a tiny model with the fake engine, pushes every artifact, models
included, to a local-directory remote and to an S3-compatible server (moto) on 127.0.0.1,
pulls into a fresh `git clone`, and checks that `dvc status` is clean, `dvc repro` runs
nothing and every file is byte-identical.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srlm.engines.vllm_server import free_port

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def run(cwd, *args, env=None):
    full_env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **S3_ENV, **(env or {})}
    result = subprocess.run(
        list(args), cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result.stdout


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "data").rglob("*"))
        if p.is_file() and p.name != ".gitignore"
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory, fake_pipeline):
    """The whole pipeline, built and committed once per session (`fake_pipeline`), copied:
    these tests commit their remotes to it."""
    return fake_pipeline.copy(tmp_path_factory.mktemp("origin") / "project")


def share_and_pull(origin: Path, clone: Path, name: str, url: str, **options: str):
    """Make `url` the default remote, push everything, clone, pull, and check the clone."""
    run(origin, "dvc", "remote", "add", "-f", "-d", name, url)
    for key, value in options.items():
        run(origin, "dvc", "remote", "modify", name, key, value)
    run(origin, "git", "commit", "-qam", f"remote {name}")
    assert "pushed" in run(origin, "dvc", "push")
    run(origin.parent, "git", "clone", "-q", str(origin), str(clone))
    run(clone, "dvc", "pull")
    status = run(clone, "dvc", "status")
    assert "up to date" in status, status
    assert "Running stage" not in run(clone, "dvc", "repro")
    assert files(clone) == files(origin)
    assert (clone / "data" / "models" / "m3" / "model.safetensors").is_file()
    assert (clone / "data" / "m3" / "pairs" / "_manifest.json").is_file()


def test_local_directory_remote(built, tmp_path):
    share_and_pull(built, tmp_path / "clone", "localstore", str(tmp_path / "store"))


@pytest.fixture
def moto_server():
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("moto_server did not start")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_s3_remote_on_loopback(built, tmp_path, moto_server):
    import boto3

    boto3.client(
        "s3",
        endpoint_url=moto_server,
        **{
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        },
    ).create_bucket(Bucket="srlm-artifacts")
    share_and_pull(
        built, tmp_path / "clone", "s3store", "s3://srlm-artifacts/cache", endpointurl=moto_server
    )
