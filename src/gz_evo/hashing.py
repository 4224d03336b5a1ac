"""A fast, stable 64-bit hash of string columns: for hashed splits and uniqueness checks.

pandas' ``hash_pandas_object`` is an internal detail that may change between versions (and is
slow on Arrow strings); a split that moved galaxies after a library upgrade would leak test
galaxies into training. This is FNV-1a over the UTF-8 bytes plus splitmix64's finaliser,
vectorised over rows with numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output bits."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def string_hash(values: pd.Series | pa.Array | pa.ChunkedArray, seed: int) -> np.ndarray:
    """Salted FNV-1a of each string's UTF-8 bytes, then mixed: uint64, same on every platform.

    Vectorised over galaxies (the loop runs over character positions, at most the longest id),
    and independent of pandas' internal hashing, so splits survive library upgrades.
    """
    if isinstance(values, pa.Array | pa.ChunkedArray):
        array = values.cast(pa.large_string())
    else:
        array = pa.array(values.astype("str"), type=pa.large_string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        raise ValueError("cannot hash a missing id_str")
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(
        offsets_buffer, dtype=np.int64, count=len(array) + 1, offset=array.offset * 8
    )
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(1, np.uint8)
    )
    lengths = np.diff(offsets)
    salt = _mix(np.array([int(seed) % 2**64], dtype=np.uint64))[0]
    hashes = np.full(len(array), _FNV_OFFSET ^ salt, dtype=np.uint64)
    starts = offsets[:-1]
    shortest = int(lengths.min()) if len(lengths) else 0
    index = np.empty(len(array), dtype=np.int64)  # buffers reused by every position
    byte = np.empty(len(array), dtype=np.uint8)
    with np.errstate(over="ignore"):
        for k in range(shortest):  # every string has a k-th byte
            np.add(starts, k, out=index)
            np.take(data, index, out=byte)
            np.bitwise_xor(hashes, byte, out=hashes)
            np.multiply(hashes, _FNV_PRIME, out=hashes)
        for k in range(shortest, int(lengths.max()) if len(lengths) else 0):
            present = lengths > k
            byte = data[np.where(present, starts + k, 0)].astype(np.uint64)
            hashes = np.where(present, (hashes ^ byte) * _FNV_PRIME, hashes)
        return _mix(hashes ^ lengths.astype(np.uint64))
