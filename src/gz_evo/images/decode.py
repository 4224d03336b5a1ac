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

BAD_REASONS = ("missing", "unreadable", "truncated", "wrong_channels", "blank")
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
    FITS: each band's background (``fits_low_percentile``) goes to 0 and its
    ``fits_high_percentile`` to 1, then ``asinh(x / a) / asinh(1 / a)`` with
    ``a = fits_asinh_softening``. Bands are stored bluest first (DECaLS: g, r, z), so they become
    B, G, R (``fits_bluest_first``); rows are flipped because FITS rows run bottom to top.
    """

    blank_std: float = 1.0
    fits_low_percentile: float = 1.0
    fits_high_percentile: float = 99.7
    fits_asinh_softening: float = 0.1
    fits_bluest_first: bool = True

    @classmethod
    def from_params(cls, checks: dict | None = None, fits: dict | None = None) -> DecodeConfig:
        checks, fits = checks or {}, fits or {}
        return cls(
            blank_std=float(checks.get("blank_std", cls.blank_std)),
            fits_low_percentile=float(fits.get("low_percentile", cls.fits_low_percentile)),
            fits_high_percentile=float(fits.get("high_percentile", cls.fits_high_percentile)),
            fits_asinh_softening=float(fits.get("asinh_softening", cls.fits_asinh_softening)),
            fits_bluest_first=bool(fits.get("bluest_first", cls.fits_bluest_first)),
        )


def _has_path(image_path: object) -> bool:
    """A catalog value is a path only as str or os.PathLike (None, NaN, pandas NA are missing)."""
    return isinstance(image_path, str | os.PathLike)


def source_name(image_path: object) -> str:
    """How a bad-image report names a row's image: its path, else :data:`EMBEDDED`."""
    return str(image_path) if _has_path(image_path) else EMBEDDED


def read_source(image_path: str | Path | None, image_bytes: bytes | None, root: Path) -> bytes:
    """The encoded bytes of a catalog row: embedded bytes win, else the file (relative to root).

    Only non-empty bytes / bytearray / memoryview count as embedded bytes and only str /
    os.PathLike as a path: anything else (None, NaN, pandas NA) is missing.
    """
    if isinstance(image_bytes, bytes | bytearray | memoryview) and len(image_bytes) > 0:
        return bytes(image_bytes)
    if not _has_path(image_path):
        raise BadImage("missing", "row has neither image_bytes nor image_path")
    path = Path(image_path)
    path = path if path.is_absolute() else root / path
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
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
    if is_fits(data, name):
        pixels = _decode_fits(data, config)
    else:
        pixels = _decode_pil(data, draft_size)
    _check_not_blank(pixels, config.blank_std)
    return pixels


def _decode_pil(data: bytes, draft_size: int | None) -> np.ndarray:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage("unreadable", "not a JPEG, PNG or FITS image") from None
    except (OSError, EOFError, SyntaxError, ValueError) as error:
        reason = "truncated" if _looks_truncated(error) else "unreadable"
        raise BadImage(reason, f"header: {error}") from None
    try:
        if draft_size is not None and image.format == "JPEG":
            image.draft("RGB", (draft_size, draft_size))
        image.load()
    except (OSError, EOFError, SyntaxError, ValueError) as error:
        reason = "truncated" if _looks_truncated(error) else "unreadable"
        raise BadImage(reason, f"{image.format} decode failed: {error}") from None
    return _to_rgb(image)


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
                arrays = [hdu.data for hdu in hdus if getattr(hdu, "data", None) is not None]
                array = next((a for a in arrays if a.ndim in (2, 3)), None)
                if array is None and arrays:
                    raise BadImage("wrong_channels", f"FITS data of shape {arrays[0].shape}")
                if array is None:
                    raise BadImage("unreadable", "FITS file without image data")
                array = np.asarray(array, dtype=np.float32)
    except BadImage:
        raise
    except (OSError, ValueError, TypeError, IndexError) as error:
        reason = "truncated" if _fits_truncated(error) else "unreadable"
        raise BadImage(reason, f"FITS: {error}") from None
    return fits_to_rgb(array, config)


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
    data = read_source(image_path, image_bytes, root)
    name = str(image_path) if _has_path(image_path) else None
    return resize_square(decode_image(data, name, config, draft_size=size), size)
