"""Thin nodes: embed each task's galaxies with every encoder once, probe them at every label
budget and seed, then summarise (tables, relative error reductions, figures, metrics).

torch and timm are imported inside the nodes, so other pipelines never load them.
"""

from __future__ import annotations

import logging
from pathlib import Path
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


def finetune_downstream(
    downstream_catalog: pd.DataFrame | None,
    main_encoder: dict | None,
    hybrid_encoder: dict | None,
    params: dict,
    pretraining_params: dict,
    seed: int,
) -> pd.DataFrame:
    """One row per (task, encoder, finetune, budget, seed): the encoder's last blocks and a new
    head trained on the budget's galaxies (the training core with the ``finetune`` objective),
    early-stopped on the validation galaxies, scored on the test galaxies."""
    from gz_evo.config import merged
    from gz_evo.evaluation.transfer import budget_indices, score_predictions
    from gz_evo.training.augment import GalaxyAugment
    from gz_evo.training.downstream import DownstreamConfig, task_datamodule, with_training_rows
    from gz_evo.training.finetune import finetune_config, fit_finetune, predict_labels

    config = DownstreamConfig.from_params(params)
    protocol = config.finetune
    bundles = {"main": main_encoder, "hybrid": hybrid_encoder}
    named = {c.name: c.bundle for c in _encoder_choices(bundles, ("random_init",))}
    reference = next((b["config"] for b in bundles.values() if b), None)
    if reference is None:
        raise ValueError("downstream: no trained encoder: run the pretraining pipeline first")
    augment_params = reference["augment"]
    rows = []
    for task in config.task_list():
        if not task.available():
            continue
        base = task_datamodule(task, downstream_catalog, reference["image_size"], seed)
        labels = base.datasets["train"].labels.numpy()
        n_classes = 1 if task.kind == "regression" else len(base.classes[task.label])
        budgets = [b for b in protocol.budgets if b is None or b <= len(labels)]
        for encoder in (e for e in protocol.encoders if e in named):
            for budget in budgets:
                for run_seed in protocol.seeds:
                    train_rows = budget_indices(labels, budget, run_seed, task.kind)
                    used = len(train_rows)
                    workdir = Path(protocol.workdir, task.name, encoder, str(used), str(run_seed))
                    changes = merged(
                        protocol.changes,
                        {
                            "workdir": str(workdir),
                            "objectives": {"finetune": {"kind": task.kind, "n_classes": n_classes}},
                        },
                    )
                    run_config = finetune_config(pretraining_params, changes)
                    data = with_training_rows(base, train_rows, run_config.data.batch_size)
                    augment = GalaxyAugment.from_params(augment_params, seed=run_seed)
                    logger.info("downstream task %s: finetuning %s on %d galaxies (seed %d)",
                                task.name, encoder, used, run_seed)  # fmt: skip
                    module = fit_finetune(data, run_config, augment, named[encoder], run_seed)
                    predicted = predict_labels(module, data.test_dataloader())
                    rows.append({
                        "task": task.name, "encoder": encoder, "protocol": "finetune",
                        "budget": used, "all_labels": budget is None, "seed": run_seed,
                        **_score_finetune(predicted, task.kind, score_predictions),
                    })  # fmt: skip
    return pd.DataFrame(rows)


def _score_finetune(predicted: dict, kind: str, score: Any) -> dict[str, float]:
    labels = np.asarray(predicted["labels"])
    if kind == "regression":
        return score(labels, np.asarray(predicted["outputs"]).reshape(labels.shape), kind)
    probabilities = np.asarray(predicted["probabilities"])
    classes = np.arange(probabilities.shape[1])
    return score(labels, probabilities.argmax(1), kind, probabilities, classes)


def summarise_downstream(
    probe_results: pd.DataFrame, finetune_results: pd.DataFrame, params: dict
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict, dict, dict, dict]:
    """The whole results table, mean and spread per cell, relative error reductions against
    the baselines, label-efficiency figures (one PNG per task), headline DVC metrics, MLflow
    metrics and one MLflow child run per (task, encoder, protocol) cell."""
    from gz_evo.evaluation.transfer import error_reductions, label_efficiency_figure, summarise
    from gz_evo.training.downstream import DownstreamConfig

    config = DownstreamConfig.from_params(params)
    results = pd.concat([probe_results, finetune_results], ignore_index=True)
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
    cells = mlflow_cells(summary, figures)
    return results, summary, reductions, figures, metrics, mlflow_metrics, cells


def mlflow_cells(summary: pd.DataFrame, figures: dict) -> dict[str, dict]:
    """Per (task, encoder, protocol): its rows of the summary as a table, its mean test
    error (and ROC AUC) per label budget as metric steps, and the task's figure."""
    cells = {}
    for (task, encoder, protocol), rows in summary.groupby(
        ["task", "encoder", "protocol"], sort=False
    ):
        metrics = {}
        for column in ("error_mean", "roc_auc_mean", "accuracy_mean", "mae_mean"):
            if column in rows and rows[column].notna().all():
                name = column.removesuffix("_mean")
                metrics[name] = list(zip(rows["budget"], rows[column], strict=True))
        cells[f"{task}/{encoder}/{protocol}"] = {
            "params": {"task": task, "encoder": encoder, "protocol": protocol},
            "metrics": metrics,
            "tables": {"summary.csv": rows},
            "figures": {"label_efficiency.png": figures[task]},
        }
    return cells


def headline_metrics(results: pd.DataFrame, reductions: pd.DataFrame) -> dict:
    """Per task, protocol and encoder, with every label: mean test error and its relative
    reduction against random initialisation (the papers' headline), for DVC."""
    everything = results[results["all_labels"]]
    metrics: dict[str, dict] = {}
    for (task, protocol, encoder), rows in everything.groupby(
        ["task", "protocol", "encoder"], sort=False
    ):
        cell = {"error": float(rows["error"].mean())}
        if "roc_auc" in rows and rows["roc_auc"].notna().all():  # binary tasks only
            cell["roc_auc"] = float(rows["roc_auc"].mean())
        metrics.setdefault(task, {}).setdefault(protocol, {})[encoder] = cell
    largest = reductions.groupby(["task", "protocol"])["budget"].transform("max")
    chosen = reductions[
        (reductions["budget"] == largest) & (reductions["baseline"] == "random_init")
    ]
    for row in chosen.itertuples():
        cell = metrics[row.task][row.protocol].get(row.encoder)
        if cell is not None and np.isfinite(row.relative_error_reduction):
            cell["error_reduction_vs_random_init"] = float(row.relative_error_reduction)
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
