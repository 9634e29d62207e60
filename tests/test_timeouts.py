"""Per-tier test timeouts (tests/conftest.py): unit tests 120 s, the long tiers pyproject's 600 s;
and how xdist hands out the tests (`make test`)."""

from __future__ import annotations

import os
import types

import pytest

from tests import conftest


class _Item:
    """What the hook uses of a collected test: its markers."""

    def __init__(self, *marks: pytest.MarkDecorator):
        self.own_markers = [mark.mark for mark in marks]

    def get_closest_marker(self, name: str):
        return next((mark for mark in self.own_markers if mark.name == name), None)

    def add_marker(self, mark: pytest.MarkDecorator) -> None:
        self.own_markers.append(mark.mark)

    def timeout(self):
        mark = self.get_closest_marker("timeout")
        return None if mark is None else mark.args


def _config(timeout_option=None):
    return types.SimpleNamespace(
        getoption=lambda name, default=None: timeout_option if name == "timeout" else default
    )


def test_unit_tests_get_120_s_and_the_long_tiers_keep_the_global_limit(monkeypatch):
    monkeypatch.delenv("PYTEST_TIMEOUT", raising=False)
    unit, own = _Item(), _Item(pytest.mark.timeout(30))
    tiers = {name: _Item(getattr(pytest.mark, name)) for name in conftest.LONG_TIERS}
    conftest.add_unit_timeouts(_config(), [unit, own, *tiers.values()])
    assert unit.timeout() == (120,)
    assert own.timeout() == (30,)  # a test's own limit stands
    assert {name: item.timeout() for name, item in tiers.items()} == dict.fromkeys(
        ("integration", "slow", "vllm", "gpu")
    )


def test_a_timeout_chosen_for_the_run_is_not_overridden(monkeypatch):
    monkeypatch.delenv("PYTEST_TIMEOUT", raising=False)
    item = _Item()
    conftest.add_unit_timeouts(_config(timeout_option=5.0), [item])
    assert item.timeout() is None
    monkeypatch.setenv("PYTEST_TIMEOUT", "5")
    conftest.add_unit_timeouts(_config(), [item])
    assert item.timeout() is None


def test_this_unit_test_runs_under_the_unit_limit(request):
    if request.config.getoption("timeout", None) is not None or os.environ.get("PYTEST_TIMEOUT"):
        pytest.skip("this run chose its own timeout")
    assert request.node.get_closest_marker("timeout").args == (120,)


def test_under_xdist_the_fake_pipeline_modules_are_one_unit_and_first(monkeypatch):
    ids = [
        "tests/test_artifacts.py::test_a",
        "tests/test_pipeline.py::test_b[x]",
        "tests/test_bad_inputs.py::test_c",
        "tests/test_vllm_server.py::test_d",
        "tests/test_remote.py::test_e",
    ]
    assert [conftest.xdist_unit(i) for i in ids] == [
        "tests/test_artifacts.py",
        "fake_pipeline",
        "tests/test_bad_inputs.py",
        "fake_pipeline",
        "fake_pipeline",
    ]
    items = [types.SimpleNamespace(nodeid=i, own_markers=[]) for i in ids]
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setenv("PYTEST_TIMEOUT", "5")  # (no markers to add to these stand-ins)
    conftest.pytest_collection_modifyitems(_config(), items)
    assert [item.nodeid for item in items] == [ids[1], ids[3], ids[4], ids[0], ids[2]]


def test_an_xdist_worker_runs_one_torch_thread_on_its_own_core():
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        pytest.skip("runs in one process (not under xdist)")
    import torch

    # set by tests/conftest.py before torch was first imported (unless the run exported them)
    assert torch.get_num_threads() == int(os.environ["OMP_NUM_THREADS"])
    cores = sorted(os.sched_getaffinity(0))
    assert os.environ["VLLM_CPU_OMP_THREADS_BIND"] == str(cores[int(worker[2:]) % len(cores)])
