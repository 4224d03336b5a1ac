"""Thin nodes: embed the pool once, let the simulated volunteers vote on it, run the rounds of
acquisition (BALD and random) and summarise them (table, learning-curve figure, metrics).

The domain code is :mod:`gz_evo.evaluation.active` and :mod:`gz_evo.evaluation.bald`; torch and
timm are imported inside the nodes, so other pipelines never load them.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def embed_pool(
    encoder: dict | None,
    unlabelled_images: pd.DataFrame | None,
    downstream_catalog: pd.DataFrame | None,
    params: dict,
) -> dict:
    """The pool's galaxies (the unlabelled and downstream images) embedded once by the
    pretrained encoder: ``{"ids", "source", "features" float32 [N, F]}``; bad images left out
    and logged."""
    from gz_evo.evaluation.active import (
        ActiveLearningConfig,
        ActiveLearningError,
        decode_pool,
        pool_table,
    )
    from gz_evo.models.bundle import encoder_from_bundle
    from gz_evo.training.augment import GalaxyAugment
    from gz_evo.training.downstream import embed

    config = ActiveLearningConfig.from_params(params)
    if not encoder or "config" not in encoder:
        raise ActiveLearningError(
            "active learning: no pretrained encoder (data/06_models/gz_evo_encoder): run "
            "`kedro run --pipelines pretraining` first"
        )
    table = pool_table(
        {"unlabelled_images": unlabelled_images, "downstream_catalog": downstream_catalog}
    )
    images, kept, bad = decode_pool(table, int(encoder["config"]["image_size"]))
    if len(bad):
        logger.warning("active learning pool: %d bad images left out (e.g. %s)", len(bad),
                       bad["id_str"].head(5).tolist())  # fmt: skip
    features = embed(
        encoder_from_bundle(encoder),
        images,
        GalaxyAugment(**encoder["config"]["augment"]),
        config.embed_batch_size,
    )
    logger.info("active learning pool: %d galaxies embedded (%d features)", *features.shape)
    return {
        "ids": table["id_str"].to_numpy()[kept].tolist(),
        "source": table["source"].to_numpy()[kept].tolist(),
        "features": features,
    }


def ask_volunteers(
    pool: dict, truth: pd.DataFrame, params: dict, behaviour: dict, seed: int
) -> pd.DataFrame:
    """The simulated volunteers' votes on every pool galaxy for the campaign's decision tree
    (``id_str`` + one column per answer), drawn once; the loop reveals a galaxy's votes when it
    acquires it."""
    from gz_evo.evaluation.active import ActiveLearningConfig, pool_truth
    from gz_evo.evaluation.active import ask_volunteers as simulate
    from gz_evo.schema import load_schema

    config = ActiveLearningConfig.from_params(params)
    schema = load_schema(config.campaign)
    votes = simulate(pool_truth(truth, pool["ids"]), schema, config.volunteers, behaviour, seed)
    return pd.concat(
        [pd.DataFrame({"id_str": pool["ids"]}), pd.DataFrame(votes, columns=schema.answer_columns)],
        axis=1,
    )


def run_acquisitions(
    pool: dict,
    votes: pd.DataFrame,
    truth: pd.DataFrame,
    params: dict,
    behaviour: dict,
    seed: int,
) -> pd.DataFrame:
    """Every strategy's rounds for every seed (test loss per labelled size, what each round
    acquired), the head fitted on every candidate, and the uniform and oracle losses on the same
    test galaxies."""
    from gz_evo.evaluation.active import (
        ActiveLearningConfig,
        ActiveLearningError,
        pool_truth,
        reference_rows,
        run_active_learning,
    )
    from gz_evo.schema import load_schema

    config = ActiveLearningConfig.from_params(params)
    schema = load_schema(config.campaign)
    if list(votes["id_str"]) != list(pool["ids"]):
        raise ActiveLearningError(
            "active learning: active_learning_votes are not for the current pool; rerun "
            "`kedro run --pipelines active_learning`"
        )
    counts = votes[schema.answer_columns].to_numpy(np.int64)
    galaxies = pool_truth(truth, pool["ids"])
    logger.info("active learning: %d pool galaxies, %d test, %s acquisition, %d + %d x %d "
                "labelled, seeds %s", len(counts), config.test_size, "/".join(config.strategies),
                config.initial, config.rounds, config.batch_size, list(config.seeds))  # fmt: skip
    results = run_active_learning(
        pool["features"], counts, galaxies["difficulty"].to_numpy(), schema, config, seed
    )
    references = reference_rows(galaxies, counts, schema, behaviour, config, seed)
    return pd.concat([results, references], ignore_index=True)


def summarise_active_learning(results: pd.DataFrame) -> tuple[pd.DataFrame, dict, dict, dict]:
    """Test loss per (strategy, labelled galaxies) with its spread over seeds, the learning
    curves as a figure, headline DVC metrics and the curves as MLflow metric steps."""
    from gz_evo.evaluation.active import headline_metrics, learning_curve_figure, summarise

    summary = summarise(results)
    metrics = headline_metrics(summary, results)
    mlflow_metrics: dict = {}
    for strategy, rows in summary.groupby("strategy"):
        mlflow_metrics[f"{strategy}/test_loss"] = [
            {"value": float(row.test_loss_mean), "step": int(row.labelled)}
            for row in rows.sort_values("labelled").itertuples()
        ]
    return summary, {"learning_curves": learning_curve_figure(summary)}, metrics, mlflow_metrics
