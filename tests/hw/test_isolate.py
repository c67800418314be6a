"""The forked child that runs native code (the C simulation, fuzz cases)."""
import pytest

from l1forge.hw.sim.isolate import ChildCrashed, run_isolated


def _torch_work() -> float:
    import torch

    a = (torch.arange(512 * 512) % 7).reshape(512, 512).float()  # small integers: exact in any summation order
    return float((torch.relu(a) @ a).double().sum())


def test_child_after_the_parent_used_torch_threads_does_not_hang():
    """libgomp is not fork-safe: once the parent has run a parallel torch op, a forked child that
    enters the OpenMP pool waits forever (it did in CI, 300 s per fuzz case). The child runs
    single-threaded and answers the same number."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = _torch_work()
        torch.relu(torch.ones(64, 256, 256)).sum()
        assert run_isolated(_torch_work, timeout=60) == expected
    finally:
        torch.set_num_threads(threads)


def _abort():
    import os

    os.write(2, b"native assertion failed\n")
    os.abort()


def test_a_native_abort_is_named():
    with pytest.raises(ChildCrashed, match="killed by SIGABRT: native assertion failed"):
        run_isolated(_abort, timeout=60)
