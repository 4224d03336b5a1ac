"""Pretraining end to end: resume-aware fit, test evaluation, outputs, MLflow (rank 0 only).

MLflow: per-epoch metrics go into kedro-mlflow's active run (one run per ``kedro run``), or into a
child run of it with ``pretraining.mlflow.nested: true``; without an active run, nowhere.

Resume: checkpoints live in ``pretraining.workdir`` (a stable folder). A rerun with the same
configuration continues from ``last.ckpt``; a finished run (``done.json``) skips straight to
evaluation; a changed configuration (different fingerprint) starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gz_evo.datasets.atomic import atomic_write_path
from gz_evo.datasets.pretraining import process_rank
from gz_evo.schema import Schema

logger = logging.getLogger(__name__)

# keys that change where/how fast training runs, not what it learns: resuming across them is fine
_HARDWARE_KEYS = ("accelerator", "devices", "strategy", "num_nodes", "enable_progress_bar")


@dataclass
class PretrainingResult:
    checkpoint_path: str | None
    encoder: dict | None
    predictions: pd.DataFrame | None
    metrics: dict


def check_launch(trainer_config: dict) -> None:
    """Refuse ``strategy: ddp`` with several processes in a plain ``kedro run``.

    Lightning's ``ddp`` re-executes the command line once per extra process, which for
    ``kedro run`` means re-running the whole pipeline per rank. Inside one node use
    ``ddp_spawn``; across nodes launch ranks with torchrun or srun (they set RANK/SLURM_PROCID).
    """
    strategy = str(trainer_config.get("strategy", "auto"))
    devices = trainer_config.get("devices", 1)
    several = devices not in (1, "1") or int(trainer_config.get("num_nodes", 1)) > 1
    launched = any(os.environ.get(v) for v in ("RANK", "LOCAL_RANK", "SLURM_PROCID"))
    if strategy.startswith("ddp") and not strategy.startswith("ddp_spawn") and several:
        if not launched:
            raise ValueError(
                f"pretraining.trainer.strategy={strategy!r} with devices={devices!r} needs a "
                "launcher: use strategy ddp_spawn inside one node, or start one process per "
                "device with torchrun / srun (see README, 'Pretraining on GPU clusters')"
            )


def fingerprint(params: dict, schema_dict: dict, seed: int) -> str:
    """A hash of everything that changes what is learnt (not the hardware knobs)."""
    relevant = json.loads(json.dumps(params, default=str))
    relevant.pop("mlflow", None)
    relevant.pop("workdir", None)
    for key in _HARDWARE_KEYS:
        relevant.get("trainer", {}).pop(key, None)
    text = json.dumps({"params": relevant, "schema": schema_dict, "seed": seed}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_json(path: Path, value: dict) -> None:
    """Write a small JSON stamp atomically: a kill never leaves a half-written one behind."""
    with atomic_write_path(path) as temporary:
        temporary.write_text(json.dumps(value) + "\n")


def prepare_workdir(workdir: Path, key: str) -> tuple[Path | None, bool]:
    """(checkpoint to resume from or None, training already finished) for this fingerprint."""
    stamp = workdir / "fingerprint.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") != key:
        if process_rank() == 0:
            logger.info("pretraining configuration changed: starting afresh in %s", workdir)
            shutil.rmtree(workdir / "checkpoints", ignore_errors=True)
            (workdir / "done.json").unlink(missing_ok=True)
    if process_rank() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        _write_json(stamp, {"fingerprint": key})
    last = workdir / "checkpoints" / "last.ckpt"
    return (last if last.is_file() else None), (workdir / "done.json").is_file()


def _mlflow_logger(config: dict):
    """Lightning logger into kedro-mlflow's active run (or a child run), on rank 0 only.

    ``config``: ``enabled`` (default true), ``nested`` (default false: log per-epoch metrics
    into the ``kedro run``'s own run; true: a child run named ``run_name``).
    """
    if not config.get("enabled", True) or process_rank() != 0:
        return None
    import mlflow

    from gz_evo.models.trainer import OpenRunMLFlowLogger

    parent = mlflow.active_run()
    if parent is None:
        return None
    run_id, nested = parent.info.run_id, bool(config.get("nested", False))
    if nested:
        run_id = (
            mlflow.MlflowClient()
            .create_run(
                parent.info.experiment_id,
                run_name=config.get("run_name", "pretraining-fit"),
                tags={"mlflow.parentRunId": parent.info.run_id, "gz_evo.stage": "pretraining"},
            )
            .info.run_id
        )
    return OpenRunMLFlowLogger(
        tracking_uri=mlflow.get_tracking_uri(), run_id=run_id, log_model=False, close_run=nested
    )


def _autocast(precision: str, device: Any):
    import contextlib

    import torch

    precision = str(precision)
    if "bf16" in precision:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision.startswith("16"):
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def predict(module: Any, dataloader: Any, precision: str = "32-true") -> dict:
    """Concentrations, counts and keys for every galaxy of a loader (eval views, no dropout)."""
    import torch

    device = next(module.parameters()).device
    module.eval()
    keys, concentrations, counts = [], [], []
    with torch.inference_mode(), _autocast(precision, device):
        for batch in dataloader:
            images = batch["image"].to(device, non_blocking=True)
            concentrations.append(module(module.augment.eval_view(images)).float().cpu())
            counts.append(batch["counts"].cpu())
            keys.extend(batch["key"])
    return {
        "key": keys,
        "concentrations": torch.cat(concentrations).numpy(),
        "counts": torch.cat(counts).numpy(),
    }


def evaluation_metrics(
    outputs: dict, schema: Schema, prefix: str, min_votes: int, level: float
) -> dict[str, float]:
    """Loss (total, per question, per campaign), uniform baseline, MAE and interval coverage."""
    import torch

    from gz_evo.losses import (
        dirichlet_multinomial_nll,
        question_index_tensor,
        uniform_concentration_loss,
    )
    from gz_evo.models.evaluation import vote_fraction_metrics
    from gz_evo.models.module import LossAggregator, metric_dict

    index = question_index_tensor(schema.answer_question_index)
    counts = torch.as_tensor(outputs["counts"])
    result = dirichlet_multinomial_nll(
        torch.as_tensor(outputs["concentrations"]), counts, index, schema.n_questions
    )
    # rank 0 evaluates alone after fit: a cross-rank sync here would wait for ranks that have left
    aggregator = LossAggregator.for_schema(schema, sync_on_compute=False)
    aggregator.update(result.per_question, result.total_votes)
    metrics = metric_dict(prefix, aggregator.compute(), schema)
    metrics[f"{prefix}/uniform_loss"] = float(
        uniform_concentration_loss(counts, index, schema.n_questions)
    )
    if prefix == "test":
        fractions = vote_fraction_metrics(
            outputs["concentrations"], outputs["counts"], schema, min_votes, level
        )
        for name, values in fractions.items():
            for question, value in values.items():
                metrics[f"{prefix}/{name}/{question}"] = value
            if values:
                metrics[f"{prefix}/{name}"] = float(np.mean(list(values.values())))
    return metrics


def pretrain(
    datamodule: Any,
    schema_dict: dict,
    params: dict,
    seed: int,
    augment: Any,
    image_size: int,
    normalisation: dict,
) -> PretrainingResult:
    """Fit (or resume) the GZ-Evo model, evaluate it on the test split, and package outputs.

    Ranks other than 0 (torchrun / srun) train and return an empty result: only rank 0 evaluates,
    logs to MLflow and has outputs to save.
    """
    import lightning.pytorch as pl
    import torch

    from gz_evo.models.evaluation import prediction_table
    from gz_evo.models.io import encoder_bundle
    from gz_evo.models.module import GZEvoModule
    from gz_evo.models.trainer import build_trainer, checkpoint_dir

    check_launch(params["trainer"])
    schema = Schema.from_dict(schema_dict)
    workdir = Path(params["workdir"])
    resume_from, finished = prepare_workdir(workdir, fingerprint(params, schema_dict, seed))

    pl.seed_everything(seed, workers=True)
    module = GZEvoModule(schema_dict, params["model"], params["optimizer"], augment, image_size)
    mlflow_logger = _mlflow_logger(params.get("mlflow", {}))
    trainer = build_trainer(params["trainer"], workdir, logger=mlflow_logger or False)
    if finished:
        logger.info("pretraining already finished in %s: evaluating its best checkpoint", workdir)
    else:
        if resume_from is not None:
            logger.info("resuming pretraining from %s", resume_from)
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
        if trainer.interrupted:
            raise RuntimeError("pretraining was interrupted; rerun the stage to resume it")
        if process_rank() == 0:
            # under ddp_spawn this process's trainer never stepped: ask the last checkpoint
            last = torch.load(
                checkpoint_dir(workdir) / "last.ckpt",
                map_location="cpu",
                weights_only=True,
                mmap=True,
            )
            _write_json(workdir / "done.json", {"global_step": int(last["global_step"])})
    if process_rank() != 0:
        return PretrainingResult(None, None, None, {})

    best = checkpoint_dir(workdir) / "best.ckpt"
    chosen = best if best.is_file() else checkpoint_dir(workdir) / "last.ckpt"
    state = torch.load(chosen, map_location="cpu", weights_only=True)
    module.load_state_dict(state["state_dict"])
    device = torch.device(
        "cuda"
        if torch.cuda.is_available()
        and params["trainer"].get("accelerator") in ("gpu", "cuda", "auto")
        else "cpu"
    )
    module.to(device)
    precision = params["trainer"].get("precision", "32-true")
    evaluation = params.get("evaluation", {})
    min_votes = int(evaluation.get("min_votes", 20))
    level = float(evaluation.get("interval", 0.9))
    datamodule.setup("validate")
    datamodule.setup("test")
    val_outputs = predict(module, datamodule.val_dataloader(), precision)
    test_outputs = predict(module, datamodule.test_dataloader(), precision)
    metrics = {
        **evaluation_metrics(val_outputs, schema, "val", min_votes, level),
        **evaluation_metrics(test_outputs, schema, "test", min_votes, level),
        "best_global_step": int(state.get("global_step", 0)),
        "epochs": int(state.get("epoch", 0)) + 1,
    }
    if mlflow_logger is not None:
        _log_final(mlflow_logger, metrics, chosen)
    predictions = prediction_table(
        test_outputs["key"], test_outputs["concentrations"], schema, level
    )
    bundle = encoder_bundle(
        module.cpu(), image_size, normalisation, extra={"seed": seed, "metrics": _headline(metrics)}
    )
    return PretrainingResult(str(chosen), bundle, predictions, metrics)


def _headline(metrics: dict) -> dict:
    keys = ("val/loss", "val/uniform_loss", "test/loss", "test/uniform_loss", "test/mae")
    return {key: metrics[key] for key in keys if key in metrics}


def _log_final(mlflow_logger: Any, metrics: dict, checkpoint: Path) -> None:
    import time

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=mlflow_logger._tracking_uri)
    run_id = mlflow_logger.run_id
    now = int(time.time() * 1000)
    entries = [mlflow.entities.Metric(f"final/{k}", float(v), now, 0) for k, v in metrics.items()]
    for start in range(0, len(entries), 500):
        client.log_batch(run_id, metrics=entries[start : start + 500])
    client.set_tag(run_id, "gz_evo.checkpoint", str(checkpoint))
    if mlflow_logger.close_run:  # our own child run; kedro-mlflow ends its own run
        client.set_terminated(run_id, "FINISHED")
