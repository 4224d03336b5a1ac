"""Training shards: webdataset-style tar files of pre-resized, encoded images with key and counts.

Layout of a shard directory (local path or any fsspec URL)::

    index.json                       format, image size, encoding, answer columns, shards per split
    samples.parquet                  key, split, shard, position: where every galaxy went
    train/train-000000.tar ...       per sample: ``{n}.jpg`` (pixels) + ``{n}.json`` (key, counts)
    val/ test/ unlabelled/

Why tar shards of JPEG at the training size (see README): at 2 million galaxies a reader must stream
sequentially from local disk or an object store, and bytes per image decide the I/O bill (224 px
JPEG q95 is ~20 kB against ~150 kB raw), while a 224 px JPEG decodes in ~0.5 ms per core, so a few
workers feed a GPU. ``png`` (lossless) and ``npy`` (raw uint8, no decoding) are there when exact
pixels or zero decode cost matter more than disk.

Splitting (:func:`plan_epoch`) is at sample level: the epoch's stream (shards in a seeded, per-epoch
order) is cut into one contiguous range per DDP rank and then per DataLoader worker, so every galaxy
is read exactly once per epoch however many shards there are; ``even=True`` pads ranks to equal
length by wrapping around (as torch's DistributedSampler does), which DDP training needs.
:func:`epoch_window` picks a different contiguous part of a split each epoch (shard pieces, the
unlabelled galaxies mixed into training), rotating so that every sample comes once before repeats.
:func:`nested_subset` keeps a fraction of a split (shards that list the positions they keep), the
same galaxies for the same seed and each fraction's galaxies inside every larger fraction's.
Nothing here imports torch: the Kedro images stage only writes.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "gz_evo-shards"
VERSION = 1
SPLITS = ("train", "val", "test", "unlabelled")
ENCODINGS = ("jpg", "png", "npy")
INDEX_FILE = "index.json"
SAMPLES_FILE = "samples.parquet"
_BLOCK = 512


# ---- encoding ------------------------------------------------------------------------------------
def check_encoding(encoding: str) -> None:
    """Raise ValueError unless ``encoding`` is one of :data:`ENCODINGS`."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown shard encoding {encoding!r}; use one of {sorted(ENCODINGS)}")


def encode_pixels(pixels: np.ndarray, encoding: str, quality: int = 95) -> bytes:
    """``uint8[H, W, 3]`` to bytes in the shard's encoding."""
    check_encoding(encoding)
    if encoding == "npy":
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(pixels, dtype=np.uint8), allow_pickle=False)
        return buffer.getvalue()
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    if encoding == "jpg":
        image.save(buffer, format="JPEG", quality=int(quality))
    else:
        image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def decode_pixels(data: bytes, encoding: str) -> np.ndarray:
    """Bytes of one shard member back to ``uint8[H, W, 3]``."""
    if encoding == "npy":
        return _load_npy(data)
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)


_NPY_MAGIC = b"\x93NUMPY\x01\x00"


def _load_npy(data: bytes) -> np.ndarray:
    """A uint8 ``.npy`` member without copying (fast path for the version-1 files we write)."""
    if data[:8] == _NPY_MAGIC:
        header_length = int.from_bytes(data[8:10], "little")
        header = data[10 : 10 + header_length].decode("latin1")
        if "'descr': '|u1'" in header and "'fortran_order': False" in header:
            shape_text = header.split("'shape': (")[1].split(")")[0]
            shape = tuple(int(n) for n in shape_text.split(",") if n.strip())
            return np.frombuffer(data, np.uint8, offset=10 + header_length).reshape(shape)
    return np.load(io.BytesIO(data), allow_pickle=False)


# ---- writing ----------------------------------------------------------------------------------
class ShardWriter:
    """Write one split's samples into tar shards of ``samples_per_shard`` (reproducible bytes)."""

    def __init__(
        self,
        root: Path,
        split: str,
        samples_per_shard: int,
        encoding: str = "jpg",
        quality: int = 95,
        first_shard: int = 0,
        first_sample: int = 0,
    ) -> None:
        check_encoding(encoding)
        if samples_per_shard < 1:
            raise ValueError("samples_per_shard must be >= 1")
        self.root, self.split = Path(root), split
        self.samples_per_shard, self.encoding, self.quality = samples_per_shard, encoding, quality
        self._shard_number, self._sample_number = first_shard, first_sample
        self._tar: tarfile.TarFile | None = None
        self._tar_path: Path | None = None
        self._in_shard = 0
        self.shards: list[dict[str, Any]] = []
        self.keys: list[tuple[str, int, int]] = []  # key, shard number, position in shard

    def add(self, key: str, pixels: np.ndarray, counts: np.ndarray) -> None:
        if self._tar is None or self._in_shard >= self.samples_per_shard:
            self._open_next()
        assert self._tar is not None
        name = f"{self._sample_number:09d}"
        meta = {"key": key, "counts": np.asarray(counts, dtype=np.int64).tolist()}
        encoded = encode_pixels(pixels, self.encoding, self.quality)
        _add_member(self._tar, f"{name}.{self.encoding}", encoded)
        _add_member(self._tar, f"{name}.json", json.dumps(meta, separators=(",", ":")).encode())
        self.keys.append((key, self._shard_number, self._in_shard))
        self._in_shard += 1
        self._sample_number += 1

    def _open_next(self) -> None:
        self._close_current()
        directory = self.root / self.split
        directory.mkdir(parents=True, exist_ok=True)
        self._tar_path = directory / f"{self.split}-{self._shard_number:06d}.tar"
        partial = self._tar_path.with_suffix(".tar.partial")
        self._tar = tarfile.open(partial, "w", format=tarfile.USTAR_FORMAT)
        self._in_shard = 0

    def _close_current(self) -> None:
        if self._tar is None or self._tar_path is None:
            return
        self._tar.close()
        self._tar_path.with_suffix(".tar.partial").replace(self._tar_path)
        relative = self._tar_path.relative_to(self.root).as_posix()
        self.shards.append({"path": relative, "n_samples": self._in_shard})
        self._tar, self._shard_number = None, self._shard_number + 1

    def close(self) -> list[dict[str, Any]]:
        """Finish the open shard; return ``[{"path", "n_samples"}]`` of every shard written."""
        self._close_current()
        return self.shards

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        elif self._tar is not None:
            self._tar.close()


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


def write_index(
    root: Path,
    image_size: int,
    encoding: str,
    answer_columns: list[str],
    splits: dict[str, list[dict[str, Any]]],
    samples: list[tuple[str, str, int, int]],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``index.json`` (last: it marks a complete shard set) and ``samples.parquet``."""
    import pandas as pd

    table = pd.DataFrame(samples, columns=["key", "split", "shard", "position"])
    table["shard"] = table["shard"].astype("int32")
    table["position"] = table["position"].astype("int32")
    table.to_parquet(Path(root) / SAMPLES_FILE, index=False)
    index = {
        "format": FORMAT,
        "version": VERSION,
        "image_size": int(image_size),
        "encoding": encoding,
        "answer_columns": list(answer_columns),
        "splits": {
            split: {
                "labelled": split != "unlabelled",
                "n_samples": int(sum(shard["n_samples"] for shard in shards)),
                "shards": shards,
            }
            for split, shards in splits.items()
        },
        **(extra or {}),
    }
    (Path(root) / INDEX_FILE).write_text(json.dumps(index, indent=1) + "\n")
    return index


# ---- the handle ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardInfo:
    """One shard, or a contiguous piece of one: where it is, how many samples, whether they carry
    votes, and ``start``, the position of its first sample in the shard file (0 for a whole shard;
    pieces come from :func:`epoch_window`). ``positions``: when not None, the sorted positions in
    the shard file of the only samples it holds (``n_samples`` of them; from
    :func:`nested_subset`)."""

    url: str
    n_samples: int
    labelled: bool
    start: int = 0
    positions: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ShardSet:
    """A light, picklable handle on a shard directory: its root URL and index, no pixels."""

    root: str
    index: dict[str, Any] = field(repr=False)

    @classmethod
    def open(cls, root: str | Path, storage_options: dict | None = None) -> ShardSet:
        import fsspec

        root = str(root).rstrip("/")
        with fsspec.open(f"{root}/{INDEX_FILE}", "rt", **(storage_options or {})) as handle:
            index = json.load(handle)
        if index.get("format") != FORMAT:
            raise ValueError(f"{root}/{INDEX_FILE} is not a {FORMAT} index")
        return cls(root=root, index=index)

    @property
    def image_size(self) -> int:
        return int(self.index["image_size"])

    @property
    def encoding(self) -> str:
        return str(self.index["encoding"])

    @property
    def answer_columns(self) -> list[str]:
        return list(self.index["answer_columns"])

    @property
    def splits(self) -> list[str]:
        return [split for split in SPLITS if split in self.index["splits"]] + [
            split for split in self.index["splits"] if split not in SPLITS
        ]

    def n_samples(self, split: str) -> int:
        return int(self.index["splits"].get(split, {}).get("n_samples", 0))

    def shards(self, split: str) -> list[ShardInfo]:
        entry = self.index["splits"].get(split)
        if entry is None:
            return []
        return [
            ShardInfo(f"{self.root}/{shard['path']}", int(shard["n_samples"]), entry["labelled"])
            for shard in entry["shards"]
        ]

    def samples(self) -> Any:
        """``samples.parquet`` as a DataFrame (key, split, shard, position)."""
        import fsspec
        import pandas as pd

        with fsspec.open(f"{self.root}/{SAMPLES_FILE}", "rb") as handle:
            return pd.read_parquet(handle)


def _shard_number(url: str) -> int:
    """``.../train/train-000012.tar`` -> 12 (the ``shard`` column of ``samples.parquet``)."""
    return int(url.rsplit("/", 1)[-1].removesuffix(".tar").rsplit("-", 1)[-1])


def nested_subset(shard_set: ShardSet, split: str, fraction: float, seed: int) -> list[ShardInfo]:
    """``round(fraction * N)`` of a split's ``N`` galaxies (at least one), as shards that hold
    only them (:attr:`ShardInfo.positions`), in shard order.

    The galaxies kept are those with the smallest salted hash of their key
    (:func:`gz_evo.hashing.string_hash`, salt ``seed``): the same ones for the same seed whatever
    the shard layout, and nested, so each fraction's galaxies are inside every larger fraction's
    (a scaling sweep's smaller training sets are subsets of its bigger ones). ``fraction`` 1 gives
    the split's shards unchanged.
    """
    from gz_evo.hashing import string_hash

    if not 0 < fraction <= 1:
        raise ValueError(f"a subset fraction must be in (0, 1], got {fraction!r}")
    shards = shard_set.shards(split)
    if fraction == 1:
        return shards
    samples = shard_set.samples()
    samples = samples[samples["split"] == split].reset_index(drop=True)
    keep = max(1, round(fraction * len(samples)))
    order = np.argsort(string_hash(samples["key"], seed), kind="stable")[:keep]
    kept = samples.iloc[np.sort(order)]
    subset = []
    for shard in shards:
        positions = np.sort(kept.loc[kept["shard"] == _shard_number(shard.url), "position"])
        if len(positions):
            subset.append(
                replace(shard, n_samples=len(positions), positions=tuple(positions.tolist()))
            )
    if sum(shard.n_samples for shard in subset) != keep:
        raise ValueError(
            f"{shard_set.root}/{SAMPLES_FILE} does not match index.json for split {split!r}: "
            "rebuild the shards (kedro run --pipelines images)"
        )
    return subset


# ---- splitting and reading --------------------------------------------------------------------
def shard_order(n_shards: int, seed: int, epoch: int, shuffle: bool) -> list[int]:
    """The order shards are streamed in this epoch: seeded per epoch, identical on every rank."""
    if not shuffle:
        return list(range(n_shards))
    return np.random.default_rng([seed, epoch]).permutation(n_shards).tolist()


def epoch_window(shards: Sequence[ShardInfo], count: int, epoch: int) -> list[ShardInfo]:
    """``count`` samples of the concatenated ``shards`` for this epoch, as shard pieces in order.

    Epoch ``e``'s window starts at ``(e * count) % total`` and wraps around the end, so successive
    epochs read successive windows of one rotating stream: every sample is used once before any is
    used again (over ``total / count`` epochs when ``count`` divides ``total``). Pieces never cross
    shard boundaries, so reads stay sequential. ``count >= total`` gives the shards unchanged, 0
    none. The same on every rank and worker (it depends on the epoch alone).
    """
    shards = list(shards)
    total = sum(shard.n_samples for shard in shards)
    if count < 0:
        raise ValueError(f"epoch_window: count must be >= 0, got {count}")
    if count >= total:
        return shards
    pieces: list[ShardInfo] = []
    position, left = epoch * count % total, count
    offsets = np.concatenate([[0], np.cumsum([shard.n_samples for shard in shards])])
    while left > 0:
        slot = int(np.searchsorted(offsets, position, side="right") - 1)
        shard = shards[slot]
        first = position - int(offsets[slot])
        take = min(left, shard.n_samples - first)
        pieces.append(replace(shard, n_samples=take, start=shard.start + first))
        position, left = (position + take) % total, left - take
    return pieces


def rank_range(total: int, rank: int, world_size: int, even: bool) -> tuple[int, int]:
    """This rank's ``[start, stop)`` of the epoch's stream (may run past ``total``: wrap around)."""
    if even:
        per_rank = math.ceil(total / world_size)
        return rank * per_rank, (rank + 1) * per_rank
    return rank * total // world_size, (rank + 1) * total // world_size


def plan_epoch(
    shard_sizes: list[int],
    *,
    seed: int,
    epoch: int,
    shuffle: bool,
    rank: int = 0,
    world_size: int = 1,
    worker: int = 0,
    num_workers: int = 1,
    even: bool = False,
    batch_size: int = 1,
) -> list[tuple[int, int, int]]:
    """``(shard, start, stop)`` segments one (rank, worker) reads this epoch, in order.

    The epoch's stream (all samples, shards in :func:`shard_order`) is cut into ``world_size``
    contiguous rank ranges (sizes differing by at most one; all equal to ``ceil(N / world_size)``
    with ``even``, wrapping around to the start), and each rank range into ``num_workers``
    contiguous worker ranges made of whole batches of ``batch_size`` (only the last worker's may
    end in a partial batch), so a rank yields exactly ``ceil(its samples / batch_size)`` batches.
    Segments never cross shard boundaries, so reads stay sequential.
    """
    order = shard_order(len(shard_sizes), seed, epoch, shuffle)
    sizes = [shard_sizes[i] for i in order]
    total = sum(sizes)
    if total == 0:
        return []
    rank_start, rank_stop = rank_range(total, rank, world_size, even)
    length = rank_stop - rank_start
    batches = math.ceil(length / batch_size)
    start = rank_start + min(worker * batches // num_workers * batch_size, length)
    stop = rank_start + min((worker + 1) * batches // num_workers * batch_size, length)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    segments: list[tuple[int, int, int]] = []
    position = start
    while position < stop:
        wrapped = position % total
        slot = int(np.searchsorted(offsets, wrapped, side="right") - 1)
        take = min(stop - position, int(offsets[slot + 1]) - wrapped)
        first = wrapped - int(offsets[slot])
        segments.append((order[slot], first, first + take))
        position += take
    return segments


def _read_exact(handle: Any, size: int) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise EOFError(f"shard ends early: wanted {size} bytes, got {len(data)}")
    return data


def _next_header(handle: Any) -> tuple[str, int, int, bool] | None:
    """The next tar header: (name, size, padded size, is a regular file), or None at the end."""
    header = handle.read(_BLOCK)
    if len(header) < _BLOCK or header == b"\0" * _BLOCK:
        return None
    name = header[:100].rstrip(b"\0").decode()
    prefix = header[345:500].rstrip(b"\0").decode()
    size = int(header[124:136].rstrip(b"\0 ").decode() or "0", 8)
    regular = header[156:157] in (b"0", b"\0")
    return (f"{prefix}/{name}" if prefix else name), size, -(-size // _BLOCK) * _BLOCK, regular


def iter_shard(
    url: str,
    start: int = 0,
    stop: int | None = None,
    encoding: str = "jpg",
    storage_options: dict | None = None,
    decode: bool = True,
    keep: Container[int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Samples ``start:stop`` of one shard, read sequentially (skipped ones are seeked past);
    ``keep``: only the samples at these positions (the others are seeked past as well).

    Yields ``{"key": str, "image": uint8[H, W, 3], "counts": int32[A]}``; with ``decode=False``
    ``image`` stays encoded bytes (so a shuffle buffer holds kilobytes, not decoded pixels).
    """
    import fsspec

    with fsspec.open(url, "rb", **(storage_options or {})) as handle:
        sample_index, current, members = -1, None, {}
        while True:
            header = _next_header(handle)
            if header is None:
                break
            name, size, padded, regular = header
            base, _, extension = name.rpartition("/")[2].partition(".")
            if base != current:
                sample_index, current, members = sample_index + 1, base, {}
                if stop is not None and sample_index >= stop:
                    break
            if (
                not regular
                or sample_index < start
                or (keep is not None and sample_index not in keep)
            ):
                handle.seek(padded, 1)
                continue
            members[extension] = _read_exact(handle, size)
            if padded > size:
                handle.seek(padded - size, 1)
            if "json" in members and encoding in members:
                meta = json.loads(members.pop("json"))
                pixels = members.pop(encoding)
                yield {
                    "key": meta["key"],
                    "image": decode_pixels(pixels, encoding) if decode else pixels,
                    "counts": np.asarray(meta["counts"], dtype=np.int32),
                }


def shuffled(items: Iterable[Any], buffer_size: int, rng: np.random.Generator) -> Iterator[Any]:
    """Approximate shuffle with a fixed-size buffer (deterministic given ``rng``)."""
    if buffer_size <= 1:
        yield from items
        return
    buffer: list[Any] = []
    for item in items:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        slot = int(rng.integers(buffer_size))
        evicted, buffer[slot] = buffer[slot], item
        yield evicted
    rng.shuffle(buffer)  # type: ignore[arg-type]
    yield from buffer


def iter_plan(
    shards: list[ShardInfo],
    segments: list[tuple[int, int, int]],
    encoding: str,
    storage_options: dict | None = None,
    decode: bool = True,
) -> Iterator[dict[str, Any]]:
    """Read a plan's segments in order; each sample also gets ``labelled`` from its shard.

    Segment positions count from the shard's (or shard piece's) ``start``, or index its
    ``positions`` when it lists them (the samples between are seeked past, not decoded).
    """
    for shard_number, start, stop in segments:
        shard = shards[shard_number]
        if shard.positions is not None:
            wanted = shard.positions[start:stop]
            if not wanted:
                continue
            first, last, keep = wanted[0], wanted[-1] + 1, frozenset(wanted)
        else:
            first, last, keep = shard.start + start, shard.start + stop, None
        samples = iter_shard(shard.url, first, last, encoding, storage_options, decode, keep)
        for sample in samples:
            sample["labelled"] = shard.labelled
            yield sample
