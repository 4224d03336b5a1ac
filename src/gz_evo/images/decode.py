"""Decode one galaxy image (JPEG, PNG, FITS, or bytes embedded in a catalog row) to RGB uint8.

Every failure becomes a :class:`BadImage` with a typed ``reason`` (one of :data:`BAD_REASONS`), so
the images pipeline can exclude the galaxy, list it in its report and carry on. FITS data (floats,
one band or three bands in either axis order) is scaled to 8 bits with a percentile + asinh stretch,
the way survey cutouts are usually shown. Only numpy, Pillow and astropy are imported here.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

BAD_REASONS = ("missing", "unreadable", "truncated", "wrong_channels", "blank", "too_large")
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fits.fz")
FITS_MAGIC = b"SIMPLE  ="
EMBEDDED = "<image_bytes>"  # how bad-image reports name a row that has no image path


class BadImage(ValueError):
    """An image that cannot be used; ``reason`` is one of :data:`BAD_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in BAD_REASONS:
            raise ValueError(f"unknown bad-image reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class DecodeConfig:
    """Knobs of decoding and checking (``images.checks`` and ``images.fits`` in parameters).

    ``blank_std``: an image whose pixel standard deviation (0-255 scale) is below this is blank.
    ``max_pixels``: an image with more pixels (width x height, from its header, before any pixel
    is decoded) is refused as ``too_large`` (a decompression bomb, or not a galaxy cutout); so is
    a file larger than such an image could be (3 bands of float64).
    FITS: each band's background (``fits_low_percentile``) goes to 0 and its
    ``fits_high_percentile`` to 1, then ``asinh(x / a) / asinh(1 / a)`` with
    ``a = fits_asinh_softening``. Bands are stored bluest first (DECaLS: g, r, z), so they become
    B, G, R (``fits_bluest_first``); rows are flipped because FITS rows run bottom to top.
    """

    blank_std: float = 1.0
    max_pixels: int = 40_000_000
    fits_low_percentile: float = 1.0
    fits_high_percentile: float = 99.7
    fits_asinh_softening: float = 0.1
    fits_bluest_first: bool = True

    @classmethod
    def from_params(cls, checks: dict | None = None, fits: dict | None = None) -> DecodeConfig:
        checks, fits = checks or {}, fits or {}
        return cls(
            blank_std=float(checks.get("blank_std", cls.blank_std)),
            max_pixels=int(checks.get("max_pixels", cls.max_pixels)),
            fits_low_percentile=float(fits.get("low_percentile", cls.fits_low_percentile)),
            fits_high_percentile=float(fits.get("high_percentile", cls.fits_high_percentile)),
            fits_asinh_softening=float(fits.get("asinh_softening", cls.fits_asinh_softening)),
            fits_bluest_first=bool(fits.get("bluest_first", cls.fits_bluest_first)),
        )

    @property
    def max_file_bytes(self) -> int:
        """The largest file a ``max_pixels`` image can be: 3 bands of float64, plus headers."""
        return 24 * self.max_pixels + 2**20


def _has_path(image_path: object) -> bool:
    """A catalog value is a path only as str or os.PathLike (None, NaN, pandas NA are missing)."""
    return isinstance(image_path, str | os.PathLike)


def source_name(image_path: object) -> str:
    """How a bad-image report names a row's image: its path, else :data:`EMBEDDED`."""
    return str(image_path) if _has_path(image_path) else EMBEDDED


def read_source(
    image_path: str | Path | None,
    image_bytes: bytes | None,
    root: Path,
    config: DecodeConfig | None = None,
) -> bytes:
    """The encoded bytes of a catalog row: embedded bytes win, else the file (relative to root).

    Only non-empty bytes / bytearray / memoryview count as embedded bytes and only str /
    os.PathLike as a path: anything else (None, NaN, pandas NA) is missing. A file larger than
    ``config.max_file_bytes`` is refused before it is read.
    """
    config = config or DecodeConfig()
    if isinstance(image_bytes, bytes | bytearray | memoryview) and len(image_bytes) > 0:
        return bytes(image_bytes)
    if not _has_path(image_path):
        raise BadImage("missing", "row has neither image_bytes nor image_path")
    path = Path(image_path)
    path = path if path.is_absolute() else root / path
    try:
        if path.is_dir():
            raise BadImage("missing", f"{path} is a directory, not an image file")
        size = path.stat().st_size
        if size > config.max_file_bytes:
            raise BadImage(
                "too_large",
                f"{path} is {size / 1e6:.0f} MB, more than an image of images.checks.max_pixels="
                f"{config.max_pixels:,} pixels can be",
            )
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise BadImage("missing", f"no such file {path}") from None
    except OSError as error:
        raise BadImage("unreadable", f"{path}: {error}") from None


def is_fits(data: bytes, name: str | None = None) -> bool:
    """FITS by magic bytes (or by file name, for compressed FITS)."""
    if data[: len(FITS_MAGIC)] == FITS_MAGIC:
        return True
    return name is not None and str(name).lower().endswith(FITS_SUFFIXES)


def decode_image(
    data: bytes,
    name: str | None = None,
    config: DecodeConfig | None = None,
    draft_size: int | None = None,
) -> np.ndarray:
    """Decode and check encoded image bytes; return ``uint8[H, W, 3]`` or raise :class:`BadImage`.

    ``draft_size`` lets JPEG decode at a reduced scale (DCT scaling, never below that size),
    which is several times faster when the image is resized down afterwards anyway.
    """
    config = config or DecodeConfig()
    if len(data) == 0:
        raise BadImage("truncated", "empty file")
    with warnings.catch_warnings():  # decoders warn about what they then fail on, or repair
        warnings.simplefilter("ignore")
        if is_fits(data, name):
            pixels = _decode_fits(data, config)
        else:
            pixels = _decode_pil(data, draft_size, config.max_pixels)
    _check_not_blank(pixels, config.blank_std)
    return pixels


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise BadImage(
            "too_large",
            f"{width} x {height} = {width * height:,} pixels, more than images.checks.max_pixels="
            f"{max_pixels:,} (a decompression bomb, or not a galaxy cutout)",
        )


def _decode_pil(data: bytes, draft_size: int | None, max_pixels: int) -> np.ndarray:
    """Pillow's decoders are fed untrusted bytes: any error they raise means a bad image."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage("unreadable", "not a JPEG, PNG or FITS image") from None
    except Image.DecompressionBombError as error:
        raise BadImage("too_large", f"header: {error}") from None
    except (MemoryError, RecursionError):
        raise BadImage("unreadable", "header: the decoder ran out of memory or stack") from None
    except Exception as error:
        reason = "truncated" if _looks_truncated(error) else "unreadable"
        raise BadImage(reason, f"header: {type(error).__name__}: {error}") from None
    _check_pixels(*image.size, max_pixels)
    try:
        if draft_size is not None and image.format == "JPEG":
            image.draft("RGB", (draft_size, draft_size))
        image.load()
        return _to_rgb(image)
    except BadImage:
        raise
    except (MemoryError, RecursionError):
        raise BadImage("unreadable", f"{image.format}: the decoder ran out of memory") from None
    except Exception as error:
        reason = "truncated" if _looks_truncated(error) else "unreadable"
        message = f"{image.format} decode failed: {type(error).__name__}: {error}"
        raise BadImage(reason, message) from None


def _looks_truncated(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, EOFError) or any(
        word in text for word in ("truncated", "broken data stream", "end of file", "too short")
    )


def _to_rgb(image: Image.Image) -> np.ndarray:
    """RGB as is; palette images expand to RGB; RGBA only when its alpha is fully opaque."""
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8)
    if mode == "RGBA":
        pixels = np.asarray(image, dtype=np.uint8)
        if pixels[..., 3].min() == 255:
            return np.ascontiguousarray(pixels[..., :3])
        raise BadImage("wrong_channels", "RGBA image with a non-opaque alpha channel")
    bands = len(image.getbands())
    raise BadImage("wrong_channels", f"{bands} channel(s) (mode {mode}); expected 3 (RGB)")


def _decode_fits(data: bytes, config: DecodeConfig) -> np.ndarray:
    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(io.BytesIO(data), memmap=False, lazy_load_hdus=False) as hdus:
                images = [
                    hdu for hdu in hdus
                    if isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU)
                    and _fits_axes(hdu)
                ]  # fmt: skip
                for hdu in images:  # sizes from the headers, before any data is read
                    _check_fits_size(_fits_axes(hdu), config.max_pixels)
                hdu = next((h for h in images if len(_fits_axes(h)) in (2, 3)), None)
                if hdu is None and images:
                    shape = tuple(reversed(_fits_axes(images[0])))
                    raise BadImage("wrong_channels", f"FITS data of shape {shape}")
                if hdu is None:
                    raise BadImage("unreadable", "FITS file without image data")
                array = np.asarray(hdu.data, dtype=np.float32)
    except BadImage:
        raise
    except (MemoryError, RecursionError):
        raise BadImage("unreadable", "FITS: the decoder ran out of memory") from None
    except Exception as error:  # astropy is fed untrusted bytes: any error means a bad file
        reason = "truncated" if _fits_truncated(error) else "unreadable"
        raise BadImage(reason, f"FITS: {type(error).__name__}: {error}") from None
    return fits_to_rgb(array, config)


def _fits_axes(hdu) -> list[int]:
    """``NAXIS1..n`` of an image HDU's header (empty when it holds no data)."""
    header = hdu.header
    naxis = int(header.get("ZNAXIS", header.get("NAXIS", 0)) or 0)
    key = "ZNAXIS" if "ZNAXIS" in header else "NAXIS"
    axes = [int(header.get(f"{key}{i}", 0) or 0) for i in range(1, naxis + 1)]
    return axes if axes and all(a > 0 for a in axes) else []


def _check_fits_size(axes: list[int], max_pixels: int) -> None:
    """Width x height (the band axis, of 1 or 3, left out) against ``max_pixels``."""
    spatial = sorted(axes, reverse=True)[:2]
    if len(spatial) == 2:
        _check_pixels(spatial[1], spatial[0], max_pixels)
    elif int(np.prod(axes, dtype=np.float64)) > max_pixels:
        _check_pixels(int(np.prod(axes, dtype=np.float64)), 1, max_pixels)


def _fits_truncated(error: BaseException) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("truncat", "too small", "end of file", "end card"))


def fits_bands_last(array: np.ndarray) -> np.ndarray:
    """``float[H, W, 3]`` from 2D data (repeated) or 3-band data in either axis order."""
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2)
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[2] != 3:
        return np.moveaxis(array, 0, 2)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    if array.ndim == 3 and array.shape[0] == 1:
        return np.repeat(np.moveaxis(array, 0, 2), 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 1:
        return np.repeat(array, 3, axis=2)
    raise BadImage("wrong_channels", f"FITS data of shape {array.shape}; expected 1 or 3 bands")


def fits_to_rgb(array: np.ndarray, config: DecodeConfig | None = None) -> np.ndarray:
    """Percentile + asinh stretch of float FITS data to ``uint8[H, W, 3]``."""
    config = config or DecodeConfig()
    bands = fits_bands_last(np.asarray(array, dtype=np.float32))
    finite = np.isfinite(bands)
    if not finite.any():
        raise BadImage("blank", "FITS data has no finite value")
    bands = np.where(finite, bands, np.nan)
    low = np.nanpercentile(bands, config.fits_low_percentile, axis=(0, 1))
    shifted = bands - low
    high = np.nanpercentile(shifted, config.fits_high_percentile, axis=(0, 1))
    if not np.isfinite(high).all() or (high <= 0).any():
        raise BadImage("blank", "FITS data is constant in at least one band")
    softening = config.fits_asinh_softening
    scaled = np.clip(np.nan_to_num(shifted / high, nan=0.0), 0.0, None)
    stretched = np.arcsinh(scaled / softening) / np.arcsinh(1.0 / softening)
    if config.fits_bluest_first:
        stretched = stretched[..., ::-1]
    return np.ascontiguousarray((np.clip(stretched[::-1], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def _check_not_blank(pixels: np.ndarray, blank_std: float) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise BadImage("wrong_channels", f"decoded shape {pixels.shape}")
    std = float(pixels.std())
    if std < blank_std:
        raise BadImage("blank", f"pixel standard deviation {std:.2f} < {blank_std}")


def resize_square(pixels: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize, antialiased (Lanczos), to ``uint8[size, size, 3]``."""
    height, width = pixels.shape[:2]
    side = min(height, width)
    if height != width:
        top, left = (height - side) // 2, (width - side) // 2
        pixels = pixels[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(pixels)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)


def load_galaxy(
    image_path: str | Path | None,
    image_bytes: bytes | None,
    size: int,
    root: Path = Path("."),
    config: DecodeConfig | None = None,
) -> np.ndarray:
    """Read, decode, check and resize one catalog row's image; raise :class:`BadImage` if bad."""
    data = read_source(image_path, image_bytes, root, config)
    name = str(image_path) if _has_path(image_path) else None
    return resize_square(decode_image(data, name, config, draft_size=size), size)
