"""Decoding and checks: JPEG, PNG, FITS (synthetic and real), embedded bytes, every bad kind."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from PIL import Image

from gz_evo.images.decode import (
    BAD_REASONS,
    BadImage,
    DecodeConfig,
    decode_image,
    fits_to_rgb,
    load_galaxy,
    read_source,
    resize_square,
    source_name,
)
from tests.images.galaxies import encode, galaxy


def _fits_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    fits.PrimaryHDU(array).writeto(buffer)
    return buffer.getvalue()


def _reason(call) -> str:
    with pytest.raises(BadImage) as caught:
        call()
    return caught.value.reason


def test_png_decodes_exactly_and_jpeg_closely() -> None:
    pixels = galaxy(40)
    assert np.array_equal(decode_image(encode(pixels, "PNG")), pixels)
    jpeg = decode_image(encode(pixels, "JPEG"))
    assert jpeg.shape == (40, 40, 3) and jpeg.dtype == np.uint8
    assert np.abs(jpeg.astype(int) - pixels).mean() < 6  # noise is per channel


def test_embedded_bytes_win_over_the_path(tmp_path: Path) -> None:
    pixels = galaxy(32)
    data = read_source("does/not/exist.png", encode(pixels), tmp_path)
    assert np.array_equal(load_galaxy(None, data, 32, tmp_path), pixels)


@pytest.mark.parametrize(
    ("image_path", "image_bytes"),
    [(None, pd.NA), (pd.NA, None), (pd.NA, pd.NA), (float("nan"), b""), (pd.NA, bytearray())],
)
def test_pandas_missing_values_are_missing(tmp_path: Path, image_path, image_bytes) -> None:
    with pytest.raises(BadImage) as caught:
        read_source(image_path, image_bytes, tmp_path)
    assert caught.value.reason == "missing"
    assert source_name(image_path) == "<image_bytes>"


def test_embedded_bytes_win_over_a_pandas_missing_path(tmp_path: Path) -> None:
    data = encode(galaxy(32))
    assert read_source(pd.NA, memoryview(data), tmp_path) == data
    assert load_galaxy(pd.NA, data, 32, tmp_path).shape == (32, 32, 3)
    assert source_name(tmp_path / "a.png") == str(tmp_path / "a.png")


def test_relative_paths_resolve_against_the_root(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(encode(galaxy(32)))
    assert load_galaxy("images/a.png", None, 16, tmp_path).shape == (16, 16, 3)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: load_galaxy(str(d / "absent.png"), None, 16, d), "missing"),
        (lambda d: load_galaxy(None, None, 16, d), "missing"),
        (lambda d: decode_image(b"this is not an image at all"), "unreadable"),
        (lambda d: decode_image(b"SIMPLE  = nonsense" + b" " * 100), "unreadable"),
        (lambda d: decode_image(encode(galaxy(64), "JPEG")[:600]), "truncated"),
        (lambda d: decode_image(encode(galaxy(64), "PNG")[:300]), "truncated"),
        (lambda d: decode_image(b""), "truncated"),
        (lambda d: decode_image(_fits_bytes(np.ones((3, 64, 64), np.float32))[:4000]), "truncated"),
        (lambda d: decode_image(encode(galaxy(32)[..., 0])), "wrong_channels"),
        (lambda d: decode_image(_rgba(opaque=False)), "wrong_channels"),
        (lambda d: decode_image(_fits_bytes(np.ones((5, 32, 32), np.float32))), "wrong_channels"),
        (lambda d: decode_image(encode(np.full((32, 32, 3), 90, np.uint8))), "blank"),
        (lambda d: decode_image(_fits_bytes(np.zeros((32, 32), np.float32))), "blank"),
        (lambda d: decode_image(_fits_bytes(np.full((3, 8, 8), np.nan, np.float32))), "blank"),
    ],
)
def test_every_bad_kind_gets_its_reason(tmp_path: Path, make, reason: str) -> None:
    assert reason in BAD_REASONS
    assert _reason(lambda: make(tmp_path)) == reason


def _rgba(opaque: bool) -> bytes:
    pixels = np.dstack([galaxy(32), np.full((32, 32), 255 if opaque else 128, np.uint8)])
    return encode(pixels)


def test_opaque_rgba_and_palette_images_are_rgb() -> None:
    assert decode_image(_rgba(opaque=True)).shape == (32, 32, 3)
    palette = Image.fromarray(galaxy(32)).convert("P")
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG")
    assert decode_image(buffer.getvalue()).shape == (32, 32, 3)


def test_blank_threshold_is_a_parameter() -> None:
    faint = np.random.default_rng(0).normal(100, 3, (32, 32, 3)).clip(0, 255).astype(np.uint8)
    assert decode_image(encode(faint)).shape == (32, 32, 3)
    with pytest.raises(BadImage, match="blank"):
        decode_image(encode(faint), config=DecodeConfig(blank_std=10.0))


def test_fits_band_order_does_not_matter_and_2d_gives_grey() -> None:
    rng = np.random.default_rng(1)
    cube = rng.gamma(2.0, 1.0, (3, 24, 24)).astype(np.float32)
    first = decode_image(_fits_bytes(cube))
    last = decode_image(_fits_bytes(np.moveaxis(cube, 0, 2).copy()))
    assert np.array_equal(first, last) and first.shape == (24, 24, 3)
    grey = decode_image(_fits_bytes(cube[0]))
    assert np.array_equal(grey, decode_image(_fits_bytes(cube[:1])))
    assert np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 1], grey[..., 2])


def test_asinh_stretch_is_monotonic_and_fills_the_range() -> None:
    ramp = np.tile(np.linspace(0, 100, 64, dtype=np.float32), (64, 1))
    rgb = fits_to_rgb(ramp)
    row = rgb[0, :, 0].astype(int)
    assert (np.diff(row) >= 0).all() and row[0] == 0 and row[-1] == 255


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["example_a", "example_b"])
def test_real_decals_fits_cutouts_decode(shared_data: Path, name: str) -> None:
    path = shared_data / "fits_examples" / f"{name}.fits"
    pixels = load_galaxy(str(path), None, 64)
    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
    native = decode_image(path.read_bytes(), str(path))
    with fits.open(path) as hdus:
        shape = next(h.data.shape for h in hdus if h.data is not None)
    assert native.shape[:2] == tuple(s for s in shape if s != 3)
    # a galaxy in the middle of the cutout: the centre is brighter than the border
    grey = native.astype(float).mean(axis=2)
    side = grey.shape[0]
    centre = grey[side // 2 - 10 : side // 2 + 10, side // 2 - 10 : side // 2 + 10].mean()
    border = np.concatenate([grey[:20].ravel(), grey[-20:].ravel()]).mean()
    assert centre > border + 30
    # every band carries the galaxy, and the colours stay roughly balanced (bands g, r, z)
    channel_means = native.reshape(-1, 3).mean(axis=0)
    assert (native.reshape(-1, 3).std(axis=0) > 5).all()
    assert channel_means.max() < 3 * channel_means.min()


def test_resize_is_antialiased_and_crops_to_square() -> None:
    stripes = np.zeros((64, 96, 3), np.uint8)
    stripes[:, ::2] = 255
    small = resize_square(stripes, 16)
    assert small.shape == (16, 16, 3)
    assert abs(small.astype(float).mean() - 127.5) < 10 and small.std() < 15
