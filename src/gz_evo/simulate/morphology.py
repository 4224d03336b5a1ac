"""Latent morphology of synthetic galaxies: what each galaxy really is, before anyone looks at it.

One row per galaxy, sampled with a numpy ``Generator`` (vectorised over galaxies). Rendering draws
from these columns and simulated volunteers answer from them, so the truth table is also the answer
key for the demo's downstream tasks (rings, tidal features).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS = ("smooth", "featured", "artifact")
ARTIFACTS = ("none", "star", "trail", "zoom")
TIDAL = ("none", "shell", "stream", "plume")

# Thickness of a disk seen exactly edge-on (minor/major axis ratio).
DISK_THICKNESS = 0.12
EDGE_ON_DEGREES = 75.0


def sample_morphology(
    n: int,
    rng: np.random.Generator,
    *,
    featured_fraction: float = 0.55,
    artifact_fraction: float = 0.04,
    size_arcsec: float = 3.0,
    magnitude: float = 17.0,
    ring_fraction: float = 0.12,
    tidal_fraction: float = 0.12,
    merger_fraction: float = 0.05,
    clumpy_fraction: float = 0.15,
) -> pd.DataFrame:
    """Sample ``n`` galaxies' latent morphology.

    ``size_arcsec`` is the median half-light radius and ``magnitude`` the median apparent magnitude;
    smaller galaxies are fainter (one shared latent "distance"), so they are harder to classify.
    The ``*_fraction`` knobs set how common each kind or feature is.
    """
    if n < 0:
        raise ValueError(f"number of galaxies must be >= 0, got {n}")
    smooth_fraction = 1.0 - featured_fraction - artifact_fraction
    if smooth_fraction < 0:
        raise ValueError("featured_fraction + artifact_fraction must be <= 1")
    kind = rng.choice(3, size=n, p=[smooth_fraction, featured_fraction, artifact_fraction])
    featured = kind == 1
    smooth = kind == 0
    artifact = kind == 2

    # Distance-like latent: larger => smaller and fainter.
    distance = rng.normal(0.0, 1.0, n)
    half_light_radius = size_arcsec * np.exp(-0.35 * distance + rng.normal(0.0, 0.15, n))
    mag = magnitude + 0.8 * distance + rng.normal(0.0, 0.3, n)

    # Shape: smooth galaxies are intrinsically round to ~cigar; disks are inclined thin disks.
    inclination = np.degrees(np.arccos(rng.uniform(0.0, 1.0, n)))
    disk_q = np.sqrt(
        np.cos(np.radians(inclination)) ** 2
        + DISK_THICKNESS**2 * np.sin(np.radians(inclination)) ** 2
    )
    smooth_q = np.clip(rng.beta(5.0, 2.0, n), 0.25, 1.0)
    axis_ratio = np.where(featured, disk_q, np.where(smooth, smooth_q, 1.0))
    edge_on = featured & (inclination >= EDGE_ON_DEGREES)
    position_angle = rng.uniform(0.0, 180.0, n)

    # Bulge: smooth galaxies are all bulge; disks have a bulge-to-total ratio.
    bulge_fraction = np.where(featured, rng.beta(1.3, 2.5, n), np.where(smooth, 1.0, 0.0))
    sersic_n = np.where(smooth, rng.uniform(2.5, 4.5, n), rng.uniform(1.0, 3.0, n))
    boxy_bulge = featured & (rng.uniform(size=n) < 0.25)

    # Bars (featured only): zero for about half of the disks, else weak..strong.
    barred = featured & (rng.uniform(size=n) < 0.45)
    bar_strength = np.where(barred, rng.uniform(0.15, 1.0, n), 0.0)
    bar_angle = rng.uniform(0.0, 180.0, n)

    # Spiral arms (featured, mostly): count 1..6, winding = pitch angle (small = tight).
    spiral = featured & (rng.uniform(size=n) < 0.7)
    arm_count = np.where(spiral, rng.choice([1, 2, 2, 2, 3, 3, 4, 5, 6], size=n), 0)
    pitch_angle = np.where(spiral, rng.uniform(8.0, 40.0, n), 0.0)
    arm_strength = np.where(spiral, rng.uniform(0.3, 1.0, n), 0.0)

    # Rings: about half are inner rings hugging the bar or bulge, the rest outer rings a little
    # beyond the disk's half-light radius. They gather 50 to 90% of the young disk's light (star
    # formation concentrated in the ring) and are often incomplete (completeness 1: a full ring;
    # 0.4: bright on one side only).
    ring = featured & (rng.uniform(size=n) < ring_fraction)
    inner = rng.uniform(size=n) < 0.5
    ring_radius = np.where(inner, rng.uniform(0.8, 1.2, n), rng.uniform(1.5, 2.2, n))  # r_e
    ring_strength = np.where(ring, rng.uniform(0.5, 0.9, n), 0.0)
    ring_completeness = np.where(ring, rng.uniform(0.4, 1.0, n), 0.0)

    # Interactions (any galaxy, not artifacts): tidal features and close companions.
    tidal = np.where(~artifact & (rng.uniform(size=n) < tidal_fraction), rng.integers(1, 4, n), 0)
    tidal_strength = np.where(tidal > 0, rng.uniform(0.3, 1.0, n), 0.0)
    merger = ~artifact & (rng.uniform(size=n) < merger_fraction)
    companion_ratio = np.where(merger, rng.uniform(0.2, 1.0, n), 0.0)

    clumpy = featured & (rng.uniform(size=n) < clumpy_fraction)
    clump_count = np.where(clumpy, rng.integers(2, 9, n), 0)
    clump_fraction = np.where(clumpy, rng.uniform(0.1, 0.35, n), 0.0)

    artifact_type = np.where(artifact, rng.integers(1, 4, n), 0)
    colour_scatter = rng.normal(0.0, 0.08, n)

    return pd.DataFrame(
        {
            "kind": pd.Categorical.from_codes(kind, KINDS),
            "half_light_radius": half_light_radius,
            "magnitude": mag,
            "axis_ratio": axis_ratio,
            "inclination": np.where(featured, inclination, 0.0),
            "edge_on": edge_on,
            "position_angle": position_angle,
            "bulge_fraction": bulge_fraction,
            "sersic_n": sersic_n,
            "boxy_bulge": boxy_bulge,
            "bar_strength": bar_strength,
            "bar_angle": bar_angle,
            "arm_count": arm_count.astype(np.int64),
            "pitch_angle": pitch_angle,
            "arm_strength": arm_strength,
            "ring": ring,
            "ring_radius": ring_radius,
            "ring_strength": ring_strength,
            "ring_completeness": ring_completeness,
            "tidal": pd.Categorical.from_codes(tidal, TIDAL),
            "tidal_strength": tidal_strength,
            "merger": merger,
            "companion_ratio": companion_ratio,
            "clump_count": clump_count.astype(np.int64),
            "clump_fraction": clump_fraction,
            "artifact_type": pd.Categorical.from_codes(artifact_type, ARTIFACTS),
            "colour_scatter": colour_scatter,
        }
    )


def difficulty(truth: pd.DataFrame, psf_fwhm: float, limiting_magnitude: float) -> np.ndarray:
    """How hard each galaxy is to classify in a survey, in [0, 1] (0: easy, 1: hopeless).

    Small galaxies (few PSF widths across) and faint ones (near the survey's limit) are hard:
    volunteers' answers blur toward uniform as this grows.
    """
    resolution = truth["half_light_radius"].to_numpy() / psf_fwhm
    unresolved = 1.0 / (1.0 + np.exp(3.0 * (resolution - 1.0)))
    faint = 1.0 / (1.0 + np.exp(-2.0 * (truth["magnitude"].to_numpy() - limiting_magnitude)))
    return np.clip(1.0 - (1.0 - unresolved) * (1.0 - faint), 0.0, 1.0)
