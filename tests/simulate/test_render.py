"""GalSim rendering: shape and dtype, centred light, elongated edge-on disks, looks that differ."""

import logging

import numpy as np
import pandas as pd
import pytest

from gz_evo.simulate.morphology import sample_morphology
from gz_evo.simulate.render import Look, galaxy_seed, render_galaxy, render_images

DECALS = Look("decals", pixel_scale=0.262, psf_fwhm=1.2, zeropoint=23.0, sky_noise=0.015)
SDSS = Look(
    "sdss",
    pixel_scale=0.396,
    psf_fwhm=1.4,
    zeropoint=22.5,
    sky_noise=0.04,
    softening=0.08,
    rgb_scales=(0.9, 1.0, 1.4),
)
HST = Look("hst", pixel_scale=0.06, psf_fwhm=0.12, zeropoint=28.5, sky_noise=0.03)
QUIET = Look(
    "quiet", pixel_scale=0.262, psf_fwhm=1.0, zeropoint=23.0, sky_noise=1e-4, shot_noise=0.0
)


def _galaxy(**overrides) -> dict:
    base = sample_morphology(1, np.random.default_rng(0)).iloc[0].to_dict()
    base.update(
        kind="featured",
        half_light_radius=3.0,
        magnitude=16.5,
        axis_ratio=1.0,
        inclination=0.0,
        edge_on=False,
        position_angle=0.0,
        bulge_fraction=0.3,
        sersic_n=2.0,
        boxy_bulge=False,
        bar_strength=0.0,
        arm_count=0,
        pitch_angle=0.0,
        arm_strength=0.0,
        ring=False,
        tidal="none",
        tidal_strength=0.0,
        merger=False,
        companion_ratio=0.0,
        clump_count=0,
        clump_fraction=0.0,
        artifact_type="none",
        colour_scatter=0.0,
    )
    base.update(overrides)
    return {k: (str(v) if isinstance(v, pd.Categorical) else v) for k, v in base.items()}


def _moments(image: np.ndarray) -> tuple[float, float, float, float]:
    light = image.astype(float).sum(axis=2)
    light = np.clip(light - np.median(light), 0, None)
    y, x = np.indices(light.shape)
    total = light.sum()
    cx, cy = (light * x).sum() / total, (light * y).sum() / total
    sxx = (light * (x - cx) ** 2).sum() / total
    syy = (light * (y - cy) ** 2).sum() / total
    return cx, cy, sxx, syy


def test_image_is_uint8_rgb_with_centred_light() -> None:
    image = render_galaxy(_galaxy(), DECALS, 64, galaxy_seed(0, 1))
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    cx, cy, _, _ = _moments(image)
    assert abs(cx - 31.5) < 2 and abs(cy - 31.5) < 2
    assert image[28:36, 28:36].mean() > 3 * image[:6, :6].mean()


def test_edge_on_disk_is_elongated_along_its_position_angle() -> None:
    edge_on = _galaxy(axis_ratio=0.12, inclination=88.0, edge_on=True, bulge_fraction=0.1)
    image = render_galaxy(edge_on, QUIET, 64, galaxy_seed(0, 2))
    _, _, sxx, syy = _moments(image)
    assert sxx > 4 * syy  # position angle 0: the disk lies along x
    face_on = render_galaxy(_galaxy(bulge_fraction=0.1), QUIET, 64, galaxy_seed(0, 2))
    _, _, fxx, fyy = _moments(face_on)
    assert 0.7 < fxx / fyy < 1.4


def test_survey_looks_differ() -> None:
    galaxy = _galaxy(arm_count=2, pitch_angle=15.0, arm_strength=0.8)
    images = {
        look.name: render_galaxy(galaxy, look, 64, galaxy_seed(0, 3))
        for look in (DECALS, SDSS, HST)
    }
    # HST's pixels are 4x finer: the same galaxy overflows the frame; SDSS is noisier than DECaLS
    assert (images["hst"].astype(float).mean()) > 2 * images["decals"].astype(float).mean()
    noise = {name: float(image[:8, :8].astype(float).std()) for name, image in images.items()}
    assert noise["sdss"] > noise["decals"]
    assert not np.array_equal(images["decals"], images["sdss"])


def test_every_kind_renders_and_worker_count_does_not_change_images() -> None:
    truth = sample_morphology(12, np.random.default_rng(5), artifact_fraction=0.3)
    truth["artifact_type"] = truth["artifact_type"].astype(str)
    truth["uid"] = np.arange(len(truth))
    truth["look"] = ["decals", "hst"] * 6
    looks = {"decals": DECALS, "hst": HST}
    one = render_images(truth, looks, 32, seed=7, workers=1, chunk_size=5)
    two = render_images(truth, looks, 32, seed=7, workers=2, chunk_size=5)
    np.testing.assert_array_equal(one, two)
    assert one.shape == (12, 32, 32, 3)
    assert (one.reshape(12, -1).max(axis=1) > 60).all()  # nothing renders blank


def test_rendering_logs_its_progress(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gz_evo.simulate.render")
    truth = sample_morphology(6, np.random.default_rng(1))
    truth["uid"], truth["look"] = np.arange(6), "decals"
    render_images(truth, {"decals": DECALS}, 16, seed=0, workers=1, chunk_size=2)
    lines = [r.getMessage() for r in caplog.records if r.name == "gz_evo.simulate.render"]
    assert [line.split(" (")[0] for line in lines] == [
        "rendering: 2 / 6 galaxies",
        "rendering: 4 / 6 galaxies",
        "rendering: 6 / 6 galaxies",
    ]


def test_unknown_look_is_named() -> None:
    truth = sample_morphology(2, np.random.default_rng(0))
    truth["uid"], truth["look"] = [0, 1], "lsst"
    with pytest.raises(ValueError, match="lsst"):
        render_images(truth, {"decals": DECALS}, 16, seed=0, workers=1)
    with pytest.raises(ValueError, match="pixelscale"):
        Look.from_dict("bad", {"pixelscale": 0.2})


def _radial_profile(image: np.ndarray) -> np.ndarray:
    """Mean light in one-pixel annuli about the centre."""
    light = image.astype(float).sum(axis=2)
    y, x = np.indices(light.shape)
    radius = np.hypot(x - (light.shape[1] - 1) / 2, y - (light.shape[0] - 1) / 2).astype(int)
    return np.bincount(radius.ravel(), light.ravel()) / np.bincount(radius.ravel())


def test_ring_adds_light_at_its_radius_and_takes_it_from_the_disk() -> None:
    disk = dict(bulge_fraction=0.2, half_light_radius=4.0, bar_angle=0.0)
    ring = dict(ring=True, ring_radius=1.6, ring_strength=0.8, ring_completeness=1.0)
    plain = _radial_profile(render_galaxy(_galaxy(**disk), QUIET, 64, galaxy_seed(0, 4)))
    ringed = _radial_profile(render_galaxy(_galaxy(**disk, **ring), QUIET, 64, galaxy_seed(0, 4)))
    at_ring = round(1.6 * 4.0 / QUIET.pixel_scale)  # ring radius in pixels
    assert ringed[at_ring] > 1.2 * plain[at_ring]
    assert ringed[at_ring // 2] < plain[at_ring // 2]  # star formation moved into the ring


def test_field_stars_and_galaxies_come_from_the_look() -> None:
    empty = render_galaxy(_galaxy(), QUIET, 96, galaxy_seed(0, 5))
    crowded_look = Look.from_dict(
        "crowded",
        {"pixel_scale": 0.262, "psf_fwhm": 1.0, "zeropoint": 23.0, "sky_noise": 1e-4,
         "shot_noise": 0.0, "field_stars": 400.0, "field_galaxies": 400.0},
    )  # fmt: skip
    crowded = render_galaxy(_galaxy(), crowded_look, 96, galaxy_seed(0, 5))
    edge = np.ones((96, 96), dtype=bool)
    edge[16:-16, 16:-16] = False  # the frame's border, away from the galaxy
    lit = lambda image: (image.astype(float).sum(axis=2)[edge] > 60).mean()  # noqa: E731
    assert lit(empty) < 0.01
    assert lit(crowded) > 0.05
    # the same seed places the same field: reproducible
    np.testing.assert_array_equal(
        crowded, render_galaxy(_galaxy(), crowded_look, 96, galaxy_seed(0, 5))
    )
