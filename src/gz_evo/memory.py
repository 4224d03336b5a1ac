"""Memory-page tricks for big, mostly-zero numpy arrays (Linux; plain numpy elsewhere).

Ground floor: numpy and the standard library only. ``gz_evo.merge`` allocates its count block with
:func:`sparse_zeros` and prefaults each campaign's segment with :func:`prefault_rows` before it
writes it. Neither changes a single value: they only decide which pages the kernel backs, and when.
"""

from __future__ import annotations

import mmap

import numpy as np

_MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)  # Linux >= 5.14


def sparse_zeros(shape: tuple[int, int]) -> np.ndarray:
    """An int32 zero array whose never-written pages cost no memory.

    Most of the merged table is zeros (questions a campaign never asked). Untouched pages of an
    anonymous mapping are the kernel's shared zero page: reading them allocates nothing. numpy
    asks for 2 MiB huge pages on big arrays, so each written segment would allocate and zero
    the 2 MiB around it; 4 KiB pages keep only what was written (Linux; np.zeros elsewhere).
    """
    size = int(np.prod(shape)) * 4
    advice = getattr(mmap, "MADV_NOHUGEPAGE", None)
    if size == 0 or advice is None or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.zeros(shape, dtype=np.int32)
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    memory.madvise(advice)
    return np.frombuffer(memory, dtype=np.int32).reshape(shape)


def prefault_rows(block: np.ndarray, rows: list[int], offset: int, n: int) -> None:
    """Fault in the pages a campaign is about to write, one system call per answer row.

    ``block`` is a 2-D array from :func:`sparse_zeros`; the pages of columns ``offset`` to
    ``offset + n`` of each row in ``rows`` are mapped. One call maps a whole row segment; page by
    page, first writes cost a fault each, which is most of the merge's time on virtual machines.
    Best effort: older kernels say no, and then the writes fault the pages in as usual; an array
    not backed by a mapping (``np.zeros`` off Linux) is left alone.
    """
    memory = block.base
    while isinstance(memory, np.ndarray):
        memory = memory.base
    memory = memory.obj if isinstance(memory, memoryview) else memory
    if not isinstance(memory, mmap.mmap) or n == 0:
        return
    page, width = mmap.PAGESIZE, block.shape[1] * block.itemsize
    for row in rows:
        start = row * width + offset * block.itemsize
        aligned = start - start % page
        try:
            memory.madvise(_MADV_POPULATE_WRITE, aligned, start + n * block.itemsize - aligned)
        except (OSError, ValueError):
            return
