"""Thin nodes: embed each task's galaxies with every encoder once, probe them at every label
budget and seed, then summarise (tables, relative error reductions, figures, metrics).

torch and timm are imported inside the nodes, so other pipelines never load them.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def _encoder_choices(bundles: dict[str, dict | None], baselines: tuple[str, ...]) -> list:
    """The trained encoders present (named ``gz_evo_<method>``), then the baselines."""
    from gz_evo.training.downstream import EncoderChoice

    choices, names = [], set()
    for namespace, bundle in bundles.items():
        if not bundle:
            continue
        name = f"gz_evo_{bundle['config']['method']}"
        name = name if name not in names else f"{name}_{namespace}"
        names.add(name)
        choices.append(EncoderChoice(name, "bundle", bundle))
    return choices + [EncoderChoice(baseline, baseline) for baseline in baselines]


def embed_downstream(
    downstream_catalog: pd.DataFrame | None,
    main_encoder: dict | None,
    hybrid_encoder: dict | None,
    params: dict,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Frozen features of every available task's galaxies, once per encoder (the cache that
    probes at every budget and seed reuse)."""
    from gz_evo.training.downstream import (
        DownstreamConfig,
        augment_of,
        build_encoders,
        load_task_images,
        task_features,
    )

    config = DownstreamConfig.from_params(params)
    bundles = {"main": main_encoder, "hybrid": hybrid_encoder}
    reference = next((b["config"] for b in bundles.values() if b), None)
    if reference is None:
        raise ValueError("downstream: no trained encoder: run the pretraining pipeline first")
    encoders = build_encoders(_encoder_choices(bundles, config.baselines), reference, seed)
    augment = augment_of(reference)
    features = {}
    for task in config.task_list():
        if not task.available():
            continue
        images = load_task_images(task, downstream_catalog, reference["image_size"], seed)
        if len(images.bad):
            logger.warning("downstream task %s: %d bad images left out", task.name, len(images.bad))
        features[task.name] = {
            "kind": task.kind,
            "classes": images.classes,
            "ids": images.ids,
            "labels": images.labels,
            "encoders": task_features(
                images, encoders, augment, config.embed_batch_size, config.raw_pixel_side
            ),
        }
        sizes = {split: len(ids) for split, ids in images.ids.items()}
        logger.info("downstream task %s: %s galaxies embedded by %s", task.name, sizes,
                    ", ".join(features[task.name]["encoders"]))  # fmt: skip
    return features


def probe_downstream(features: dict[str, dict[str, Any]], params: dict) -> pd.DataFrame:
    """One row per (task, encoder, linear probe, budget, seed): test metrics (``error``: lower is
    better), for the budgets each task has enough training galaxies for."""
    from gz_evo.evaluation.transfer import budget_indices, fit_linear_probe, score_probe
    from gz_evo.training.downstream import DownstreamConfig

    config = DownstreamConfig.from_params(params)
    rows = []
    for task, content in features.items():
        kind, labels = content["kind"], content["labels"]
        available = len(labels["train"])
        budgets = [b for b in config.budgets if b is None or b <= available]
        skipped = [b for b in config.budgets if b is not None and b > available]
        if skipped:
            logger.info("downstream task %s: budgets %s skipped (%d training galaxies)",
                        task, skipped, available)  # fmt: skip
        for encoder, splits in content["encoders"].items():
            logger.info("downstream task %s: probing %s at budgets %s", task, encoder, budgets)
            for budget in budgets:
                for seed in config.seeds:
                    rows_used = budget_indices(labels["train"], budget, seed, kind)
                    probe = fit_linear_probe(
                        splits["train"][rows_used], labels["train"][rows_used], kind, seed,
                        cv=config.probe_folds,
                    )  # fmt: skip
                    metrics = score_probe(probe, splits["test"], labels["test"], kind)
                    rows.append({
                        "task": task, "encoder": encoder, "protocol": "linear_probe",
                        "budget": len(rows_used) if budget is None else budget,
                        "all_labels": budget is None, "seed": seed, **metrics,
                    })  # fmt: skip
    return pd.DataFrame(rows)


def summarise_downstream(
    results: pd.DataFrame, params: dict
) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict, dict]:
    """Mean and spread per cell, relative error reductions against the baselines, label-
    efficiency figures (one PNG per task), headline DVC metrics and MLflow metrics."""
    from gz_evo.evaluation.transfer import error_reductions, label_efficiency_figure, summarise
    from gz_evo.training.downstream import DownstreamConfig

    config = DownstreamConfig.from_params(params)
    summary = summarise(results)
    baselines = [b for b in config.baselines if b in set(results["encoder"])]
    reductions = error_reductions(summary, baselines)
    figures = {task: label_efficiency_figure(summary, task) for task in summary["task"].unique()}
    metrics = headline_metrics(results, reductions)
    mlflow_metrics = {
        name: {"value": float(value), "step": 0}
        for name, value in _flatten(metrics).items()
        if np.isfinite(value)
    }
    return summary, reductions, figures, metrics, mlflow_metrics


def headline_metrics(results: pd.DataFrame, reductions: pd.DataFrame) -> dict:
    """Per task and encoder, at every label: mean test error and its relative reduction
    against random initialisation (the papers' headline), for DVC."""
    everything = results[results["all_labels"]]
    metrics: dict[str, dict] = {}
    for (task, encoder), rows in everything.groupby(["task", "encoder"], sort=False):
        cell = {"error": float(rows["error"].mean())}
        if "roc_auc" in rows and rows["roc_auc"].notna().all():  # binary tasks only
            cell["roc_auc"] = float(rows["roc_auc"].mean())
        metrics.setdefault(task, {})[encoder] = cell
    largest = reductions.groupby("task")["budget"].transform("max") == reductions["budget"]
    for row in reductions[largest & (reductions["baseline"] == "random_init")].itertuples():
        metrics[row.task][row.encoder]["error_reduction_vs_random_init"] = float(
            row.relative_error_reduction
        )
    return metrics


def _flatten(tree: dict, prefix: str = "") -> dict[str, float]:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= _flatten(value, f"{name}/")
        else:
            flat[name] = float(value)
    return flat
