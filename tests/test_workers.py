"""Data-parallel generation: the shard -> worker map, device groups, and byte-identical
artifacts from 1 or 2 local workers and from Ray, with the fake engine and the tiny model."""

import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from srlm.core.artifacts import write_artifact
from srlm.core.errors import SrlmError
from srlm.core.params import ScaleParams
from srlm.runtime.workers import device_groups, run_shards, shard_owner, worker_environments
from tests.helpers import ROOT, requires_ray


def test_shard_owner_is_fixed_by_the_index():
    assert [shard_owner(i, 3) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]


def test_device_groups_give_each_worker_its_own_gpus():
    assert device_groups(4, 2, [str(i) for i in range(8)]) == ["0,1", "2,3", "4,5", "6,7"]
    assert device_groups(2, 1, ["3", "5"]) == ["3", "5"]
    with pytest.raises(
        SrlmError, match="8 workers x engine.tensor_parallel_size 2 need 16 GPUs, 8 visible"
    ):
        device_groups(8, 2, [str(i) for i in range(8)])


def test_cpu_workers_keep_this_process_thread_count():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU machine pins GPUs instead")
    # CPU kernels split sums by thread: another count would round differently
    assert worker_environments(3, 1) == [{"OMP_NUM_THREADS": str(torch.get_num_threads())}] * 3


class Doubler:
    """A picklable shard task (module level, as a worker needs)."""

    def __call__(self, items):
        if "boom" in items:
            raise SrlmError("shard has a bad item")
        return pl.DataFrame({"x": [2 * i for i in items]})


def test_local_workers_build_every_shard_once():
    shards = {i: list(range(i * 3, i * 3 + 3)) for i in range(5)}
    got = dict(run_shards(Doubler(), shards, ScaleParams(workers=2)))
    assert sorted(got) == list(range(5))
    assert all(got[i]["x"].to_list() == [2 * v for v in shards[i]] for i in shards)


def test_a_failing_worker_stops_the_run_with_its_line():
    shards = {0: [1], 1: ["boom"], 2: [3]}
    with pytest.raises(SrlmError, match=r"^worker 1 \(shard 1\): shard has a bad item$"):
        list(run_shards(Doubler(), shards, ScaleParams(workers=2)))


def write_prompts(folder, n=8):
    prompts = pl.DataFrame(
        {
            "prompt_id": [f"p{i:02d}" for i in range(n)],
            "prompt": [f"Tell me something about the number {i}." for i in range(n)],
            "iteration": ["m2"] * n,
            "generator": ["m1"] * n,
            "fewshot_ids": [["s"]] * n,
        }
    )
    write_artifact(prompts, folder / "prompts", "prompts", "fp")


def candidates_cmd(model, out, params):
    return [
        sys.executable,
        str(ROOT / "stages" / "candidates.py"),
        "--params",
        str(params),
        "--iteration",
        "m2",
        "--model",
        str(model),
        "--prompts",
        "prompts",
        "--out",
        str(out),
        "--metrics",
        f"{out}.json",
    ]


def judgments_cmd(model, params):
    return [
        sys.executable,
        str(ROOT / "stages" / "judgments.py"),
        "--params",
        str(params),
        "--iteration",
        "m2",
        "--model",
        str(model),
        "--candidates",
        "candidates",
        "--out",
        "judgments",
        "--scores",
        "scores",
        "--metrics",
        "judgments.json",
    ]


def build(folder, model, params_text):
    """candidates, then judgments, run as DVC runs them: from one folder, relative paths."""
    folder.mkdir()
    write_prompts(folder)
    (folder / "params.yaml").write_text(
        params_text + "candidates:\n  n: 2\n  max_new_tokens: 12\n  shard_size: 2\n"
        "judge:\n  max_new_tokens: 12\n  shard_size: 3\n"
    )
    for command in (
        candidates_cmd(model, "candidates", "params.yaml"),
        judgments_cmd(model, "params.yaml"),
    ):
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    return [folder / name for name in ("candidates", "judgments", "scores")]


def assert_same_bytes(a, b):
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for part in a.iterdir():
        assert part.read_bytes() == (b / part.name).read_bytes(), part.name


ENGINES = {
    "fake": "engine:\n  backend: fake\n",
    "tiny": "engine:\n  backend: transformers\n  precision: bf16\n  batch_size: 4\n",
}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, tiny_model_dir):
    """`one_process(engine)`: the artifacts of `scale.workers: 1` (the default), the bytes
    that the local and the Ray workers must both write. Built once per engine, on first use,
    by the same `build` as theirs: the two-process runs are built per test, so each test
    still fails by itself when its workers write other bytes."""
    built = {}

    def get(engine):
        if engine not in built:
            folder = tmp_path_factory.mktemp(f"one-{engine}") / "one"
            built[engine] = build(folder, tiny_model_dir, ENGINES[engine])
        return built[engine]

    return get


@pytest.mark.integration
@pytest.mark.parametrize("engine", ["fake", "tiny"])
def test_one_and_two_local_workers_write_the_same_bytes(
    tmp_path, tiny_model_dir, one_process, engine
):
    # (the fake engine loads nothing, but the fingerprints hash the model folder)
    one = one_process(engine)
    two = build(tmp_path / "two", tiny_model_dir, ENGINES[engine] + "scale:\n  workers: 2\n")
    for a, b in zip(one, two, strict=True):
        assert_same_bytes(a, b)


@pytest.mark.integration
@requires_ray
def test_ray_workers_write_the_same_bytes(tmp_path, tiny_model_dir, one_process):
    # the real (tiny) model only: Ray's actors load it like the local workers; the fake
    # engine would retest the same sharding without a model (and cost ~25 s)
    one = one_process("tiny")
    ray = build(
        tmp_path / "ray", tiny_model_dir, ENGINES["tiny"] + "scale:\n  workers: 2\n  cluster: ray\n"
    )
    for a, b in zip(one, ray, strict=True):
        assert_same_bytes(a, b)


@pytest.mark.integration
def test_kill_9_with_workers_resumes_per_shard(tmp_path, tiny_model_dir):
    write_prompts(tmp_path, n=10)
    params = tmp_path / "params.yaml"
    params.write_text(
        "engine:\n  backend: transformers\n  precision: fp32\n  batch_size: 2\n"
        "candidates:\n  n: 2\n  max_new_tokens: 16\n  shard_size: 1\n"
        "scale:\n  workers: 2\n"
    )
    killed, partial = tmp_path / "killed", tmp_path / "killed.partial"
    process = subprocess.Popen(
        candidates_cmd(tiny_model_dir, killed, params),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while len(list(partial.glob("part-*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = len(list(partial.glob("part-*.parquet")))
    assert 3 <= written < 10, "the kill should land mid-run"
    time.sleep(1)  # the workers die with their parent: nothing more appears
    assert len(list(partial.glob("part-*.parquet"))) == written
    subprocess.run(
        candidates_cmd(tiny_model_dir, killed, params),
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=600,
    )
    params.write_text(params.read_text().replace("workers: 2", "workers: 1"))
    clean = tmp_path / "clean"
    subprocess.run(
        candidates_cmd(tiny_model_dir, clean, params),
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=600,
    )
    assert_same_bytes(killed, clean)


def evaluate(folder, model, params_text):
    """answers and evaluate_judge from one folder, relative paths (see `build`)."""
    folder.mkdir()
    write_artifact(
        pl.DataFrame(
            {
                "prompt_id": [f"e{i}" for i in range(6)],
                "prompt": [f"Explain idea {i}." for i in range(6)],
                "source": ["t"] * 6,
                "reference": [None] * 6,
                "reference_model": [None] * 6,
            },
            schema_overrides={"reference": pl.Utf8, "reference_model": pl.Utf8},
        ),
        folder / "prompts",
        "eval_prompts",
        "fp",
    )
    seed_data = ROOT / "srlm" / "seed_data"
    (folder / "params.yaml").write_text(
        params_text + "seed:\n  ift_size: 2\n  eft_size: 2\n  eft_eval_size: 6\n"
        "evaluation:\n  max_new_tokens: 8\n  shard_size: 2\njudge:\n  max_new_tokens: 8\n"
    )
    commands = [
        [
            "seed",
            "--source",
            str(seed_data / "train.trees.jsonl"),
            "--eval-source",
            str(seed_data / "eval.trees.jsonl"),
            "--ift",
            "ift",
            "--eft",
            "eft",
            "--eft-eval",
            "eft_eval",
            "--metrics",
            "seed.json",
        ],
        [
            "answers",
            "--model",
            str(model),
            "--prompts",
            "prompts",
            "--out",
            "answers",
            "--metrics",
            "answers.json",
        ],
        [
            "evaluate_judge",
            "--model",
            str(model),
            "--eft-eval",
            "eft_eval",
            "--out",
            "judge",
            "--metrics",
            "judge.json",
        ],
    ]
    for script, *args in commands:
        done = subprocess.run(
            [
                sys.executable,
                str(ROOT / "stages" / f"{script}.py"),
                "--params",
                "params.yaml",
                *args,
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return [folder / name for name in ("answers", "judge")]


@pytest.mark.integration
def test_evaluation_stages_write_the_same_bytes_with_two_workers(tmp_path, tiny_model_dir):
    engine = ENGINES["tiny"]
    one = evaluate(tmp_path / "one", tiny_model_dir, engine)
    two = evaluate(tmp_path / "two", tiny_model_dir, engine + "scale:\n  workers: 2\n")
    for a, b in zip(one, two, strict=True):
        assert_same_bytes(a, b)
    assert pl.read_parquet(one[0] / "*.parquet").height == 6
