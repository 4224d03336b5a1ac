"""gz_evo.memory: the merge's page tricks change which pages are backed, never a value."""

from __future__ import annotations

import numpy as np
import pytest

from gz_evo.memory import prefault_rows, sparse_zeros


@pytest.mark.parametrize("shape", [(3, 5), (0, 4), (7, 0), (40, 10_000)])
def test_sparse_zeros_is_a_writable_int32_zero_array(shape) -> None:
    block = sparse_zeros(shape)
    assert block.shape == shape
    assert block.dtype == np.int32
    assert not block.any()
    if block.size:
        block[-1, -1] = 7
        assert block.sum() == 7


def test_prefault_rows_keeps_values_and_accepts_plain_arrays() -> None:
    block = sparse_zeros((6, 3000))
    block[2, 10] = 5
    prefault_rows(block, [1, 2, 4], offset=5, n=2000)
    prefault_rows(block, [0], offset=0, n=0)
    assert block.sum() == 5 and block[2, 10] == 5
    block[[1, 2, 4], 5:2005] = 1
    assert block.sum() == 3 * 2000  # block[2, 10] is in the written segment

    plain = np.zeros((2, 4), dtype=np.int32)
    prefault_rows(plain, [0, 1], offset=0, n=4)  # not a mapping: left alone
    assert not plain.any()


def test_reuse_freed_memory_is_applied_once_per_process() -> None:
    from gz_evo.memory import reuse_freed_memory

    first = reuse_freed_memory()
    assert isinstance(first, bool) and reuse_freed_memory() is first
