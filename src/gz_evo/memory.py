"""Memory-page tricks (Linux; plain behaviour elsewhere), kept out of the logic that uses them.

Ground floor: numpy and the standard library only. ``gz_evo.merge`` allocates its count block with
:func:`sparse_zeros` and prefaults each campaign's segment with :func:`prefault_rows` before it
writes it; ``GalaxyAugment`` calls :func:`reuse_freed_memory` before its first CPU batch. None
changes a single value: they only decide which pages the kernel backs, and when.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import sys

import numpy as np

_MALLOC_TUNED: list[bool] = []
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


def reuse_freed_memory(threshold_mb: int = 256) -> bool:
    """Have glibc's malloc reuse freed blocks up to ``threshold_mb`` instead of unmapping them.

    Raises ``M_MMAP_THRESHOLD`` to ``threshold_mb`` and ``M_TRIM_THRESHOLD`` to twice that, so a
    process keeps (and reuses) up to that much freed memory rather than page-faulting large
    tensors in anew every batch; PyTorch's CPU tuning guide gets the same effect by preloading
    jemalloc or tcmalloc. Once per process; True when applied, False where there is no glibc.
    """
    if _MALLOC_TUNED:
        return _MALLOC_TUNED[0]
    applied = False
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        try:
            libc = ctypes.CDLL(None)
            m_trim_threshold, m_mmap_threshold = -1, -3
            applied = bool(
                libc.mallopt(m_mmap_threshold, threshold_mb << 20)
                and libc.mallopt(m_trim_threshold, threshold_mb << 21)
            )
        except (OSError, AttributeError):  # pragma: no cover
            applied = False
    _MALLOC_TUNED.append(applied)
    return applied
