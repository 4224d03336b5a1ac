"""The demo universe end to end: who is where (truth), what they look like, how volunteers voted,
and the published-format folders that ``data/01_raw/demo/`` holds.

Every random stream is derived from one seed and the group's name (``SeedSequence``), so a
group's galaxies do not change when another group grows, and the same seed gives the same files.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from gz_evo.schema import load_schema
from gz_evo.simulate import formats
from gz_evo.simulate.morphology import difficulty, sample_morphology
from gz_evo.simulate.render import looks_from_params, render_images
from gz_evo.simulate.volunteers import check_models, simulate_votes

#: Folders of groups that are not campaigns.
UNLABELLED, DOWNSTREAM = "unlabelled", "downstream"
STREAMS = {"morphology": 0, "sky": 1, "votes": 2, "format": 3}
CANDELS_FIELDS = {  # field prefix -> (ra, dec) centre in degrees
    "GDS": (53.12, -27.81),
    "COS": (150.12, 2.30),
    "UDS": (34.41, -5.20),
    "EGS": (214.83, 52.82),
    "GDN": (189.23, 62.24),
}


def rng_for(seed: int, group: str, stream: str) -> np.random.Generator:
    """An independent generator per (seed, group, purpose)."""
    return np.random.default_rng(
        np.random.SeedSequence([int(seed), zlib.crc32(group.encode()), STREAMS[stream]])
    )


def groups(params: Mapping) -> dict[str, dict]:
    """Every group to render: the campaigns, then the unlabelled and downstream images."""
    out = {name: dict(values) for name, values in params["campaigns"].items()}
    for special in (UNLABELLED, DOWNSTREAM):
        if special in out:
            raise ValueError(f"demo.campaigns may not use the reserved name {special!r}")
        out[special] = dict(params[special])
    return out


def campaign_format(campaign: str, config: Mapping) -> str:
    """The group's ``format`` (one of ``formats.WRITERS``); a clear error for an unknown one."""
    fmt = config["format"]
    if fmt not in formats.WRITERS:
        raise ValueError(
            f"demo campaign {campaign!r}: unknown format {fmt!r}; "
            f"formats: {sorted(formats.WRITERS)}"
        )
    return fmt


def _ids(style: str, group: str, ra: np.ndarray, dec: np.ndarray, rng) -> np.ndarray:
    n = len(ra)
    if style == "iauname":
        return formats.iau_names(ra, dec)
    if style == "dr7objid":
        return np.array(
            [str(587_720_000_000_000_000 + k) for k in rng.choice(10**13, n, replace=False)],
            dtype=object,
        )
    if style == "candels":
        fields = np.array(list(CANDELS_FIELDS))[rng.integers(0, len(CANDELS_FIELDS), n)]
        numbers = rng.choice(40_000, n, replace=False) + 1
        return np.array([f"{f}_{k}" for f, k in zip(fields, numbers, strict=True)], dtype=object)
    if style == "desi":
        keys = rng.choice(200_000 * 6_000, n, replace=False)
        return np.array([f"{300_000 + k // 6000}_{k % 6000}" for k in keys], dtype=object)
    if style == "prefixed":
        return np.array([f"{group}-{k:06d}" for k in range(1, n + 1)], dtype=object)
    raise ValueError(f"unknown id style {style!r}")


#: Decimals kept of values computed in floating point, as real catalogs publish them: numpy's
#: transcendental functions take CPU-specific code paths (AVX-512 or not) that can change the last
#: bits, so the data stages' bytes would differ between machines. Coordinates: 1e-7 degrees.
COORDINATE_DECIMALS = 7
LATENT_DECIMALS = 6


def _published(truth: pd.DataFrame, decimals: int = LATENT_DECIMALS) -> pd.DataFrame:
    """Float columns rounded to ``decimals``: the same bytes on every x86-64 CPU."""
    floats = truth.select_dtypes(include="floating").columns
    truth[floats] = truth[floats].round(decimals)
    return truth


def _sky(style: str, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Right ascension and declination (degrees, to COORDINATE_DECIMALS)."""
    ra, dec = _sky_positions(style, n, rng)
    return np.round(ra, COORDINATE_DECIMALS), np.round(dec, COORDINATE_DECIMALS)


def _sky_positions(style: str, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    if style == "candels":
        centres = np.array(list(CANDELS_FIELDS.values()))[rng.integers(0, len(CANDELS_FIELDS), n)]
        return (
            centres[:, 0] + rng.normal(0, 0.08, n),
            centres[:, 1] + rng.normal(0, 0.08, n),
        )
    ra = rng.uniform(0.0, 360.0, n)
    dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-10)), np.sin(np.radians(35)), n)))
    return ra, dec


def _unique_iau(truth: pd.DataFrame) -> pd.DataFrame:
    """Nudge right ascensions until every IAU-named galaxy has its own name."""
    named = truth["id_style"] == "iauname"
    for _ in range(100):
        duplicated = named & truth["id_str"].duplicated(keep="first")
        if not duplicated.any():
            return truth
        nudged = truth.loc[duplicated, "ra"] + 0.2 / 3600.0
        truth.loc[duplicated, "ra"] = nudged.round(COORDINATE_DECIMALS)
        truth.loc[duplicated, "id_str"] = formats.iau_names(
            truth.loc[duplicated, "ra"].to_numpy(), truth.loc[duplicated, "dec"].to_numpy()
        )
    raise RuntimeError("could not make IAU names unique")


def sample_universe(params: Mapping, seed: int) -> pd.DataFrame:
    """The truth table: one row per galaxy of every group (``uid``, ``id_str``, ``group``,
    ``look``, ``ra``, ``dec``, ``difficulty`` and the latent morphology)."""
    looks = looks_from_params(params["looks"])
    frames = []
    for group, config in groups(params).items():
        n = int(config["n"])
        look = config["look"]
        if look not in looks:
            raise ValueError(f"demo group {group!r} uses look {look!r}; looks: {sorted(looks)}")
        style = "iauname"
        if "format" in config:
            style = formats.ID_STYLES[campaign_format(group, config)]
        if group == UNLABELLED:
            style = "prefixed"
        truth = _published(
            sample_morphology(
                n, rng_for(seed, group, "morphology"), **dict(config.get("morphology") or {})
            )
        )
        sky_rng = rng_for(seed, group, "sky")
        ra, dec = _sky(style, n, sky_rng)
        truth.insert(0, "id_str", _ids(style, group, ra, dec, sky_rng))
        truth.insert(1, "group", group)
        truth.insert(2, "look", look)
        truth.insert(3, "ra", ra)
        truth.insert(4, "dec", dec)
        truth.insert(5, "id_style", style)
        truth["difficulty"] = np.round(
            difficulty(truth, looks[look].psf_fwhm, looks[look].limiting_magnitude),
            LATENT_DECIMALS,
        )
        frames.append(truth)
    truth = pd.concat(frames, ignore_index=True)
    for column in ("kind", "tidal", "artifact_type"):
        truth[column] = truth[column].astype(str)
    truth = _unique_iau(truth)
    duplicated = truth["id_str"][truth["id_str"].duplicated()]
    if len(duplicated):
        raise RuntimeError(f"galaxy ids are not unique: {duplicated.head().tolist()}")
    truth.insert(0, "uid", np.arange(len(truth), dtype=np.int64))
    return truth


def render_universe(truth: pd.DataFrame, params: Mapping, seed: int) -> np.ndarray:
    """Images ``[N, S, S, 3]`` uint8 for every truth row, rendered on ``demo.workers`` processes."""
    return render_images(
        truth,
        looks_from_params(params["looks"]),
        int(params["image_size"]),
        seed,
        workers=int(params.get("workers", 2)),
        chunk_size=int(params.get("chunk_size", 64)),
    )


def simulate_campaign_votes(
    truth: pd.DataFrame, params: Mapping, campaign_dirs: Sequence[str], seed: int
) -> dict[str, pd.DataFrame]:
    """``{campaign: counts}`` for every campaign group, in that campaign's schema."""
    volunteer = dict(params.get("volunteers") or {})
    out = {}
    for campaign, config in params["campaigns"].items():
        schema = load_schema(campaign, campaign_dirs=campaign_dirs)
        check_models(schema)
        galaxies = truth[truth["group"] == campaign]
        votes_config = dict(config.get("votes") or {})
        votes = simulate_votes(
            galaxies,
            schema,
            rng_for(seed, campaign, "votes"),
            votes_mean=float(votes_config.get("mean", 40)),
            extra_fraction=float(votes_config.get("extra_fraction", 0.05)),
            difficulty=galaxies["difficulty"].to_numpy(),
            max_blur=float(volunteer.get("max_blur", 0.6)),
            agreement=float(volunteer.get("agreement", 25.0)),
        )
        out[campaign] = votes.reset_index(drop=True)
    return out


def package_universe(
    truth: pd.DataFrame,
    images: np.ndarray,
    votes: Mapping[str, pd.DataFrame],
    params: Mapping,
    campaign_dirs: Sequence[str],
    seed: int,
) -> dict[str, formats.Files]:
    """``{folder: {relative path: content}}`` for every campaign folder plus ``unlabelled`` and
    ``downstream``, each in its published format."""
    if len(images) != len(truth):
        raise ValueError(f"{len(images)} images for {len(truth)} galaxies")
    folders: dict[str, formats.Files] = {}
    for campaign, config in params["campaigns"].items():
        rows = np.flatnonzero(truth["group"].to_numpy() == campaign)
        galaxies = truth.iloc[rows].reset_index(drop=True)
        fmt = campaign_format(campaign, config)
        schema = load_schema(campaign, campaign_dirs=campaign_dirs)
        arguments = [votes[campaign], galaxies, images[rows], schema, campaign]
        if fmt in formats.WRITERS_WITH_RNG:
            arguments.append(rng_for(seed, campaign, "format"))
        folders[campaign] = formats.WRITERS[fmt](*arguments)
    for group in (UNLABELLED, DOWNSTREAM):
        rows = np.flatnonzero(truth["group"].to_numpy() == group)
        galaxies = truth.iloc[rows].reset_index(drop=True)
        labels = formats.downstream_labels(galaxies) if group == DOWNSTREAM else None
        folders[group] = formats.image_catalog(galaxies, images[rows], labels)
    return folders


def summarise_universe(truth: pd.DataFrame, votes: Mapping[str, pd.DataFrame]) -> dict:
    """Galaxies per group and votes per campaign (deterministic: no timings, for DVC metrics)."""
    summary: dict = {"galaxies": len(truth)}
    for group, count in truth["group"].value_counts(sort=False).items():
        summary[f"galaxies_{group}"] = int(count)
    for campaign, counts in votes.items():
        summary[f"votes_{campaign}"] = int(counts.to_numpy().sum())
    return summary
