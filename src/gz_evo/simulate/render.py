"""Colour images of synthetic galaxies with GalSim: light profiles, a PSF, noise and a survey look.

A galaxy is drawn as two stellar populations, each convolved with the survey PSF by GalSim:

- red (old) light: Sersic bulge, bar (an elongated n=0.5 Sersic in the disk plane, then projected),
  a companion galaxy for mergers, tidal shells/streams/plumes, or a star / satellite trail for
  artifacts;
- blue (young) light: an inclined exponential disk modulated by log-spiral arms and a ring
  (an analytic pattern wrapped in a GalSim ``InterpolatedImage``), and star-forming clumps
  (GalSim ``RandomKnots``).

The two are mixed into g, r, z with fixed colours, Gaussian sky and source noise are added per
band, and (z, r, g) -> (R, G, B) is stretched with ``asinh`` into uint8. A :class:`Look` (pixel
scale, PSF, depth, colour stretch) makes the same galaxy look like SDSS, DECaLS, Hubble or a
deep survey.
Every galaxy has its own seed, so images do not depend on how many worker processes draw them.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gz_evo.progress import ProgressLog

logger = logging.getLogger(__name__)

# g, r, z flux per unit r-band flux of the two populations (red: old stars; blue: young). Through
# the decals look's stretch, old light is beige to yellow and young light faintly blue, as in DECaLS
# colour cutouts (a stronger contrast made every disk blue and every bulge orange, which real
# galaxies are not: ../shared/notes/sim-to-real.md).
RED = np.array([0.5, 1.0, 1.4])
BLUE = np.array([0.7, 1.0, 1.05])
# Share of a disk's smooth light from old stars (drawn red); arms, rings and clumps are young.
OLD_DISK_FRACTION = 0.5


@dataclass(frozen=True)
class Look:
    """How a survey sees the sky. Angles in arcsec; fluxes in image units (r band)."""

    name: str
    pixel_scale: float  # arcsec per pixel of the cutout
    psf_fwhm: float  # Moffat FWHM, arcsec
    zeropoint: float  # magnitude of a source with total flux 1
    sky_noise: float  # Gaussian sky sigma per pixel (per band, r-band units)
    shot_noise: float = 0.02  # source noise: sigma^2 = shot_noise * flux per pixel
    limiting_magnitude: float = 19.0  # where volunteers start to struggle
    field_stars: float = 0.0  # foreground stars per square arcminute (Poisson per cutout)
    field_galaxies: float = 0.0  # faint background galaxies per square arcminute
    rgb_scales: tuple[float, float, float] = (1.0, 1.0, 1.0)  # (R<-z, G<-r, B<-g) multipliers
    softening: float = 0.05  # asinh softening: smaller shows fainter light
    max_level: float = 1.0  # value mapped to 255
    psf_beta: float = 3.5

    @classmethod
    def from_dict(cls, name: str, data: Mapping) -> Look:
        known = {f for f in cls.__dataclass_fields__ if f != "name"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"look {name!r}: unknown setting(s) {sorted(unknown)}")
        values = dict(data)
        if "rgb_scales" in values:
            values["rgb_scales"] = tuple(float(v) for v in values["rgb_scales"])
        return cls(name=name, **values)


def galaxy_seed(seed: int, uid: int) -> np.random.SeedSequence:
    """The galaxy's own random stream: the same image whatever the worker count or order."""
    return np.random.SeedSequence([int(seed), int(uid)])


def _grid(image_size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    offsets = (np.arange(image_size) - (image_size - 1) / 2.0) * scale
    x, y = np.meshgrid(offsets, offsets)
    return x, y


def _rotate(x: np.ndarray, y: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    angle = np.radians(degrees)
    cos, sin = np.cos(angle), np.sin(angle)
    return x * cos + y * sin, -x * sin + y * cos


def _normalised(pattern: np.ndarray, flux: float) -> np.ndarray:
    total = pattern.sum()
    return pattern * (flux / total) if total > 0 and flux > 0 else np.zeros_like(pattern)


def _disk_pattern(
    g: Mapping, x: np.ndarray, y: np.ndarray, flux: float
) -> tuple[np.ndarray, np.ndarray]:
    """(old, young) light of the inclined disk: a smooth exponential disk of old stars; the young
    disk modulated by log-spiral arms, and a ring."""
    u, v = _rotate(x, y, g["position_angle"])
    v = v / max(g["axis_ratio"], 0.05)
    radius = np.hypot(u, v)
    theta = np.arctan2(v, u)
    scale_length = g["half_light_radius"] / 1.678
    smooth = np.exp(-radius / scale_length)
    disk = smooth
    if g["arm_count"] > 0:
        tan_pitch = np.tan(np.radians(max(g["pitch_angle"], 3.0)))
        phase = g["arm_count"] * (theta - np.log(radius / scale_length + 1e-3) / tan_pitch)
        arms = ((1.0 + np.cos(phase)) / 2.0) ** 3
        taper = 1.0 - np.exp(-((radius / (0.8 * scale_length)) ** 2))
        strength = g["arm_strength"]
        disk = disk * ((1.0 - taper) + taper * (1.0 - 0.9 * strength + 3.5 * strength * arms))
    old = _normalised(smooth, OLD_DISK_FRACTION * flux)
    young_flux = (1.0 - OLD_DISK_FRACTION) * flux
    if not g["ring"]:
        return old, _normalised(disk, young_flux)
    # star formation gathered into the ring: the young disk gives it ring_strength of its light
    ring = _normalised(_ring_pattern(g, radius, theta), g["ring_strength"] * young_flux)
    return old, _normalised(disk, (1.0 - g["ring_strength"]) * young_flux) + ring


def _ring_pattern(g: Mapping, radius: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """A thin ring in the disk plane, brighter on one side when incomplete: real rings are often
    faint inner rings hugging a bar or bulge, or partial outer rings just beyond the disk."""
    ring_radius = g["ring_radius"] * g["half_light_radius"]
    ring = np.exp(-0.5 * ((radius - ring_radius) / (0.1 * ring_radius)) ** 2)
    gap = (1.0 - g["ring_completeness"]) * 0.5 * (1.0 + np.cos(theta - g["bar_angle"]))
    return ring * (1.0 - gap)


def _tidal_pattern(g: Mapping, x: np.ndarray, y: np.ndarray, flux: float, rng) -> np.ndarray:
    """Faint shells, a stream or a plume around the galaxy, in the sky frame."""
    radius = np.hypot(x, y) + 1e-6
    theta = np.arctan2(y, x)
    r_e = g["half_light_radius"]
    direction = rng.uniform(-np.pi, np.pi)
    offset = np.angle(np.exp(1j * (theta - direction)))  # angle from the feature's axis
    kind = g["tidal"]
    if kind == "shell":
        pattern = np.zeros_like(x)
        for shell_radius in (1.8 * r_e, 2.5 * r_e, 3.3 * r_e):
            pattern += np.exp(-0.5 * ((radius - shell_radius) / (0.08 * shell_radius)) ** 2)
        pattern *= np.exp(-0.5 * (offset / 0.9) ** 2) + 0.6 * np.exp(
            -0.5 * ((np.abs(offset) - np.pi) / 0.7) ** 2
        )
    elif kind == "stream":
        track = 2.2 * r_e * (1.0 + 0.35 * (offset + np.pi) / np.pi)
        pattern = np.exp(-0.5 * ((radius - track) / (0.12 * r_e)) ** 2)
        pattern *= np.exp(-0.5 * (offset / 1.4) ** 2)
    elif kind == "plume":
        pattern = np.exp(-radius / (2.5 * r_e)) * np.exp(-0.5 * (offset / 0.35) ** 2)
        pattern *= 1.0 - np.exp(-((radius / r_e) ** 2))
    else:
        return np.zeros_like(x)
    return _normalised(pattern, flux)


def _artifact_pattern(kind: str, x: np.ndarray, y: np.ndarray, flux: float, rng) -> np.ndarray:
    """Diffraction spikes of a bright star, or a satellite trail across the field."""
    width = 1.5 * abs(x[0, 1] - x[0, 0])
    if kind == "star":
        spikes = np.exp(-0.5 * (x / width) ** 2) + np.exp(-0.5 * (y / width) ** 2)
        return _normalised(spikes * np.exp(-np.hypot(x, y) / (8 * width)), 0.3 * flux)
    if kind == "trail":
        angle = rng.uniform(0, 180)
        _, distance = _rotate(x - rng.normal(0, 2 * width), y, angle)
        return _normalised(np.exp(-0.5 * (distance / width) ** 2), flux)
    return np.zeros_like(x)


def _sersic(n: float, half_light_radius: float, flux: float):
    import galsim

    return galsim.Sersic(n=n, half_light_radius=half_light_radius, flux=flux)


def _bulge_components(g: Mapping, flux: float, pa) -> list:
    """Sersic bulge (and a boxy component for edge-on boxy bulges)."""
    import galsim

    bulge_flux = flux * g["bulge_fraction"]
    if bulge_flux <= 0:
        return []
    r_e = g["half_light_radius"]
    bulge_radius = r_e if g["kind"] == "smooth" else 0.35 * r_e
    bulge_q = g["axis_ratio"] if g["kind"] == "smooth" else max(g["axis_ratio"], 0.55)
    n = round(2 * float(g["sersic_n"])) / 2  # half-integer n: GalSim caches its tables
    parts = [_sersic(n, bulge_radius, bulge_flux).shear(q=bulge_q, beta=pa)]
    if g["boxy_bulge"] and g["edge_on"]:
        parts.append(
            _sersic(0.5, bulge_radius, 0.5 * bulge_flux).shear(
                q=0.75, beta=pa + 90 * galsim.degrees
            )
        )
    return parts


def _disk_components(g: Mapping, flux: float, pa, galsim_rng, scale: float) -> tuple[list, list]:
    """(red, blue) GalSim parts of a disk galaxy: the bar, and star-forming clumps."""
    import galsim

    r_e = g["half_light_radius"]
    red, blue = [], []
    if g["bar_strength"] > 0:
        bar = _sersic(0.5, 0.6 * r_e, 0.4 * g["bar_strength"] * flux).shear(
            q=0.25, beta=g["bar_angle"] * galsim.degrees
        )
        red.append(bar.shear(q=max(g["axis_ratio"], 0.1), beta=pa))
    if g["clump_count"] > 0:
        knots = galsim.RandomKnots(
            int(g["clump_count"]),
            half_light_radius=0.8 * r_e,
            flux=flux * (1.0 - g["bulge_fraction"]) * g["clump_fraction"],
            rng=galsim_rng,
        )
        clump_size = galsim.Gaussian(sigma=max(0.08 * r_e, 0.5 * scale))
        blue.append(galsim.Convolve(knots, clump_size).shear(q=max(g["axis_ratio"], 0.3), beta=pa))
    return red, blue


def _companion(g: Mapping, flux: float, rng):
    """A companion galaxy one to two radii away: the 'merger' in merging questions."""
    import galsim

    r_e = g["half_light_radius"]
    distance = rng.uniform(1.2, 2.2) * r_e
    angle = rng.uniform(0, 2 * np.pi)
    ratio = g["companion_ratio"]
    return (
        _sersic(2.0, r_e * np.sqrt(ratio), ratio * flux)
        .shear(q=rng.uniform(0.5, 1.0), beta=rng.uniform(0, 180) * galsim.degrees)
        .shift(distance * np.cos(angle), distance * np.sin(angle))
    )


def render_galaxy(galaxy: Mapping, look: Look, image_size: int, seed) -> np.ndarray:
    """One galaxy as a uint8 RGB array ``[image_size, image_size, 3]`` in the given look."""
    import galsim

    rng = np.random.default_rng(seed)
    galsim_rng = galsim.BaseDeviate(int(rng.integers(1, 2**31 - 1)))
    scale = look.pixel_scale
    x, y = _grid(image_size, scale)
    flux = 10.0 ** (-0.4 * (galaxy["magnitude"] - look.zeropoint))
    g = dict(galaxy)
    if g["artifact_type"] == "zoom":  # a bad cutout: a galaxy filling (and overflowing) the frame
        g.update(kind="smooth", bulge_fraction=1.0, half_light_radius=5 * g["half_light_radius"])
    psf = galsim.Moffat(beta=look.psf_beta, fwhm=look.psf_fwhm)
    pa = g["position_angle"] * galsim.degrees
    red: list = []  # extended profiles, evaluated on the grid
    compact: list = []  # point-like red parts (stars), kept as profiles
    blue: list = []  # clumps (point-like knots), kept as profiles
    red_pixels = np.zeros_like(x)
    blue_pixels = np.zeros_like(x)

    if g["kind"] in ("smooth", "featured"):
        red += _bulge_components(g, flux, pa)
        if g["kind"] == "featured":
            disk_flux = flux * (1.0 - g["bulge_fraction"]) * (1.0 - g["clump_fraction"])
            old_disk, young_disk = _disk_pattern(g, x, y, disk_flux)
            red_pixels += old_disk
            blue_pixels += young_disk
            disk_red, disk_blue = _disk_components(g, flux, pa, galsim_rng, scale)
            red += disk_red
            blue += disk_blue
        if g["merger"]:
            red.append(_companion(g, flux, rng))
        if g["tidal"] != "none":
            red_pixels += _tidal_pattern(g, x, y, 0.25 * g["tidal_strength"] * flux, rng)
    elif g["artifact_type"] == "star":
        compact.append(galsim.Gaussian(sigma=0.2 * scale, flux=4 * flux))  # a point source
        red_pixels += _artifact_pattern("star", x, y, 4 * flux, rng)
    else:  # satellite trail over a faint smudge
        red.append(_sersic(1.0, g["half_light_radius"], 0.3 * flux))
        red_pixels += _artifact_pattern("trail", x, y, 2 * flux, rng)

    # Extended profiles are evaluated on the pixel grid (no FFT): an unresolved Sersic's wings would
    # otherwise ask GalSim for a huge FFT (big galaxies on HST pixels). Compact parts stay profiles.
    for part in red:
        red_pixels += part.drawImage(
            nx=image_size, ny=image_size, scale=scale, method="no_pixel"
        ).array

    colour = 1.0 + g["colour_scatter"] * np.array([-1.0, 0.0, 1.0])
    layers = ((compact, red_pixels, RED * colour), (blue, blue_pixels, BLUE))
    bands = _convolved_bands(layers, psf, image_size, scale)
    bands += _field(look, image_size, g["half_light_radius"], psf, rng)
    sigma = np.sqrt(look.sky_noise**2 + look.shot_noise * np.clip(bands, 0, None))
    bands = bands + sigma * rng.standard_normal(bands.shape)
    return stretch(bands, look)


def _convolved_bands(layers: tuple, psf, image_size: int, scale: float) -> np.ndarray:
    """g, r, z light of (profiles, pixel grid, colour) layers, each convolved with the PSF."""
    import galsim

    bands = np.zeros((3, image_size, image_size))
    for parts, pixels, population in layers:
        layer = list(parts)
        if pixels.any():
            layer.append(galsim.InterpolatedImage(galsim.Image(pixels, scale=scale)))
        if not layer:
            continue
        image = galsim.Convolve(galsim.Add(layer), psf).drawImage(
            nx=image_size, ny=image_size, scale=scale
        )
        bands += population[:, None, None] * image.array[None]
    return bands


def _field(look: Look, image_size: int, radius: float, psf, rng) -> np.ndarray:
    """g, r, z light of the cutout's field: foreground stars (the PSF, bright ones with a halo)
    and faint small background galaxies, Poisson in number per square arcminute, placed anywhere
    but on the galaxy's core, each with its own colour. Real cutouts always have some."""
    import galsim

    bands = np.zeros((3, image_size, image_size))
    side = image_size * look.pixel_scale
    area = (side / 60.0) ** 2
    stars = rng.poisson(look.field_stars * area)
    galaxies = rng.poisson(look.field_galaxies * area)
    for index in range(stars + galaxies):
        star = index < stars
        offset = rng.uniform(-0.5, 0.5, 2) * side
        if np.hypot(*offset) < radius:
            continue  # not on the galaxy's core
        faintest = look.limiting_magnitude + (1.5 if star else 2.5)
        magnitude = rng.uniform(look.limiting_magnitude - (2.0 if star else 0.0), faintest)
        flux = 10.0 ** (-0.4 * (magnitude - look.zeropoint))
        if star:
            profile = psf.withFlux(flux)
        else:
            size = rng.uniform(0.3, 1.0)
            shape = galsim.Exponential(half_light_radius=size, flux=flux).shear(
                q=rng.uniform(0.3, 1.0), beta=rng.uniform(0, 180) * galsim.degrees
            )
            profile = galsim.Convolve(shape, psf)
        image = profile.drawImage(
            nx=image_size, ny=image_size, scale=look.pixel_scale, offset=offset / look.pixel_scale
        )
        mix = rng.uniform(0.0, 1.0)
        bands += (mix * RED + (1.0 - mix) * BLUE)[:, None, None] * image.array[None]
    return bands


def stretch(bands: np.ndarray, look: Look) -> np.ndarray:
    """g, r, z float images ``[3, H, W]`` -> uint8 RGB ``[H, W, 3]`` with an asinh stretch."""
    rgb = np.stack([bands[2], bands[1], bands[0]], axis=-1) * np.asarray(look.rgb_scales)
    scaled = np.arcsinh(rgb / look.softening) / np.arcsinh(look.max_level / look.softening)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def _render_chunk(
    rows: list[dict], looks: dict[str, Look], image_size: int, seed: int
) -> np.ndarray:
    images = np.empty((len(rows), image_size, image_size, 3), dtype=np.uint8)
    for position, row in enumerate(rows):
        images[position] = render_galaxy(
            row, looks[row["look"]], image_size, galaxy_seed(seed, row["uid"])
        )
    return images


def render_images(
    truth: pd.DataFrame,
    looks: Mapping[str, Look],
    image_size: int,
    seed: int,
    workers: int = 2,
    chunk_size: int = 64,
) -> np.ndarray:
    """Render every galaxy of ``truth`` (needs ``uid`` and ``look`` columns) -> ``[N, H, W, 3]``.

    Chunks go to ``workers`` processes; the result is identical for any worker count because each
    galaxy's noise and knots come from its own seed (:func:`galaxy_seed`).
    """
    missing = {"uid", "look"} - set(truth.columns)
    if missing:
        raise ValueError(f"truth table needs columns {sorted(missing)}")
    unknown = set(truth["look"]) - set(looks)
    if unknown:
        raise ValueError(f"truth names look(s) {sorted(unknown)} not in {sorted(looks)}")
    rows = _records(truth)
    chunks = [rows[start : start + chunk_size] for start in range(0, len(rows), chunk_size)]
    looks = dict(looks)
    progress = ProgressLog(logger, "rendering", len(rows), "galaxies")
    parts = []
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            parts.append(_render_chunk(chunk, looks, image_size, seed))
            progress.advance(len(chunk))
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(_render_chunk, chunk, looks, image_size, seed) for chunk in chunks
            ]
            for chunk, future in zip(chunks, futures, strict=True):
                parts.append(future.result())
                progress.advance(len(chunk))
    if not parts:
        return np.empty((0, image_size, image_size, 3), dtype=np.uint8)
    return np.concatenate(parts)


def _records(truth: pd.DataFrame) -> list[dict]:
    """Plain-Python rows (categoricals as strings) that pickle cheaply to worker processes."""
    frame = truth.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
    return frame.to_dict(orient="records")


def looks_from_params(params: Mapping[str, Mapping]) -> dict[str, Look]:
    """``{name: Look}`` from the ``demo.looks`` parameters."""
    return {name: Look.from_dict(name, values) for name, values in params.items()}
