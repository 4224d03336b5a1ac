"""Thin nodes over ``gz_evo.simulate.universe``: truth, images, votes, published-format folders."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from gz_evo.simulate import universe

logger = logging.getLogger(__name__)


def sample_truth(params: dict, seed: int) -> pd.DataFrame:
    """Latent morphology, sky position and id of every galaxy of every demo group."""
    truth = universe.sample_universe(params, seed)
    logger.info("demo universe: %d galaxies in %d groups", len(truth), truth["group"].nunique())
    return truth


def render_images(truth: pd.DataFrame, params: dict, seed: int) -> np.ndarray:
    """GalSim images of every galaxy in its campaign's survey look."""
    start = time.perf_counter()
    images = universe.render_universe(truth, params, seed)
    seconds = time.perf_counter() - start
    logger.info(
        "rendered %d galaxies at %d px in %.1f s on %s worker(s)",
        len(truth),
        params["image_size"],
        seconds,
        params.get("workers", 2),
    )
    return images


def simulate_votes(
    truth: pd.DataFrame, params: dict, campaign_dirs: list[str], seed: int
) -> dict[str, pd.DataFrame]:
    """Simulated volunteers' vote counts, per campaign, in that campaign's schema."""
    return universe.simulate_campaign_votes(truth, params, campaign_dirs, seed)


def package_folders(
    folders: list[str],
    truth: pd.DataFrame,
    images: np.ndarray,
    votes: dict[str, pd.DataFrame],
    params: dict,
    campaign_dirs: list[str],
    seed: int,
) -> dict[str, dict]:
    """One ``{relative path: content}`` per output folder, in each campaign's published format."""
    wanted = [*params["campaigns"], universe.UNLABELLED, universe.DOWNSTREAM]
    if set(wanted) != set(folders):
        raise ValueError(
            f"demo.campaigns gives folders {sorted(wanted)}, but the demo pipeline writes "
            f"{sorted(folders)} (gz_evo.sources.DEMO_FOLDERS): add the name to "
            "gz_evo.sources.CAMPAIGN_SOURCES and a catalog entry raw_<name>, or remove the campaign"
        )
    return universe.package_universe(truth, images, votes, params, campaign_dirs, seed)


def summarise(truth: pd.DataFrame, votes: dict[str, pd.DataFrame]) -> tuple[dict, dict]:
    """Galaxy and vote counts, as DVC metrics (plain JSON) and as MLflow metrics."""
    summary = universe.summarise_universe(truth, votes)
    mlflow_metrics = {name: {"value": float(value), "step": 0} for name, value in summary.items()}
    return summary, mlflow_metrics
