"""Run control: launch checks, the resumable work folder, the Trainer, MLflow, fit and restore.

Resume: checkpoints live in ``pretraining.workdir`` (a stable folder). A rerun with the same
configuration continues from ``last.ckpt``; a finished run (``done.json``) skips straight to its
best checkpoint; a changed configuration (different fingerprint) starts afresh.

MLflow: per-epoch metrics go into kedro-mlflow's active run (one run per ``kedro run``), or into a
child run of it with ``pretraining.mlflow.nested: true``; without an active run, nowhere. Final
metrics reach MLflow through the catalog (the evaluation node's ``*_mlflow_metrics`` output).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only
from torch import nn

from gz_evo.datasets.atomic import atomic_write_path
from gz_evo.runtime import process_rank
from gz_evo.schema import Schema
from gz_evo.training.config import MlflowConfig, PretrainingConfig, TrainerConfig
from gz_evo.training.core import TrainingModule

logger = logging.getLogger(__name__)

MONITOR = "val/loss"

#: per-epoch metrics as CSV (Lightning's CSVLogger), under the work folder: one ``version_<n>``
#: folder per fit or resumed fit, read back by :func:`read_history`
HISTORY = "history"


def check_launch(trainer: TrainerConfig) -> None:
    """Refuse ``strategy: ddp`` (or ``auto``, which picks it) with several processes in a plain
    ``kedro run``.

    Lightning's ``ddp`` re-executes the command line once per extra process, which for
    ``kedro run`` means re-running the whole pipeline per rank. Inside one node use
    ``ddp_spawn``; across nodes launch ranks with torchrun or srun (they set RANK/SLURM_PROCID).
    """
    strategy = str(trainer.strategy)
    re_executes = strategy == "auto" or (
        strategy.startswith("ddp") and not strategy.startswith("ddp_spawn")
    )
    launched = any(os.environ.get(v) for v in ("RANK", "LOCAL_RANK", "SLURM_PROCID"))
    if re_executes and _several_processes(trainer) and not launched:
        raise ValueError(
            f"pretraining.trainer.strategy={strategy!r} with devices={trainer.devices!r} "
            "needs a launcher: use strategy ddp_spawn inside one node, or start one process "
            "per device with torchrun / srun (see README, 'Pretraining on GPU clusters')"
        )


def _several_processes(trainer: TrainerConfig) -> bool:
    """Whether Lightning will start more than one training process for these settings."""
    if trainer.num_nodes > 1:
        return True
    if trainer.devices in ("auto", -1, "-1"):  # every visible GPU
        import torch

        gpus = trainer.accelerator in ("auto", "gpu", "cuda") and torch.cuda.device_count()
        return bool(gpus) and gpus > 1
    return trainer.devices not in (1, "1")


def _write_json(path: Path, value: dict) -> None:
    """Write a small JSON stamp atomically: a kill never leaves a half-written one behind."""
    with atomic_write_path(path) as temporary:
        temporary.write_text(json.dumps(value) + "\n")


def checkpoint_dir(workdir: str | Path) -> Path:
    return Path(workdir) / "checkpoints"


def prepare_workdir(workdir: Path, key: str) -> tuple[Path | None, bool]:
    """(checkpoint to resume from or None, training already finished) for this fingerprint."""
    stamp = workdir / "fingerprint.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") != key:
        if process_rank() == 0:
            logger.info("pretraining configuration changed: starting afresh in %s", workdir)
            shutil.rmtree(checkpoint_dir(workdir), ignore_errors=True)
            shutil.rmtree(workdir / HISTORY, ignore_errors=True)
            (workdir / "done.json").unlink(missing_ok=True)
    if process_rank() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        _write_json(stamp, {"fingerprint": key})
    last = checkpoint_dir(workdir) / "last.ckpt"
    return (last if last.is_file() else None), (workdir / "done.json").is_file()


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints go to a temporary file, then are renamed: a kill never leaves half a file."""

    def save_checkpoint(self, checkpoint: dict, path: Any, storage_options: Any = None) -> None:
        with atomic_write_path(path) as temporary:
            super().save_checkpoint(checkpoint, temporary, storage_options)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: Any = None):
        # never unpickle arbitrary objects: Lightning checkpoints hold tensors, numbers and strings
        if map_location is None:
            return super().load_checkpoint(path, weights_only=True)
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)


class OpenRunMLFlowLogger(MLFlowLogger):
    """Logs into an existing MLflow run and leaves it open (kedro-mlflow owns and ends it).

    Lightning's ``MLFlowLogger.finalize`` marks the run FINISHED at the end of ``fit``; with
    ``close_run=False`` the run stays as kedro-mlflow left it.
    """

    def __init__(self, *args: Any, close_run: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_run = close_run

    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        if self.close_run:
            super().finalize(status)


def mlflow_logger(config: MlflowConfig) -> OpenRunMLFlowLogger | None:
    """Lightning logger into kedro-mlflow's active run (or a child run), on rank 0 only."""
    if not config.enabled or process_rank() != 0:
        return None
    import mlflow

    parent = mlflow.active_run()
    if parent is None:
        return None
    run_id = parent.info.run_id
    if config.nested:
        run_id = (
            mlflow.MlflowClient()
            .create_run(
                parent.info.experiment_id,
                run_name=config.run_name,
                tags={"mlflow.parentRunId": parent.info.run_id, "gz_evo.stage": "pretraining"},
            )
            .info.run_id
        )
    return OpenRunMLFlowLogger(
        tracking_uri=mlflow.get_tracking_uri(),
        run_id=run_id,
        log_model=False,
        close_run=config.nested,
    )


def history_logger(workdir: str | Path) -> Any:
    """Lightning's CSVLogger into ``<workdir>/history/version_<n>/metrics.csv`` (rank 0 writes).

    A resumed fit gets the next version, so the epochs before the interruption stay on disk.
    """
    from lightning.pytorch.loggers import CSVLogger

    return CSVLogger(save_dir=str(workdir), name=HISTORY)


def read_history(workdir: str | Path) -> Any:
    """One row per trained epoch: ``epoch``, ``step`` and every metric logged once an epoch
    (``train/loss``, ``val/loss``, ``val/loss_question/...``, ``knn/...``), from the CSV logs.

    Step-level metrics (logged more than once in an epoch) are left out. After a resume the
    epochs logged twice keep the later fit's values. No logs (a fit from before the history
    existed): an empty table with ``epoch`` and ``step`` columns.
    """
    import pandas as pd

    folder = Path(workdir) / HISTORY
    files = sorted(
        folder.glob("version_*/metrics.csv"),
        key=lambda path: int(path.parent.name.removeprefix("version_")),
    )
    frames = {order: pd.read_csv(path) for order, path in enumerate(files)}
    frames = {order: frame for order, frame in frames.items() if "epoch" in frame}
    if not frames:
        return pd.DataFrame({"epoch": pd.Series(dtype="int64"), "step": pd.Series(dtype="int64")})
    table = pd.concat(frames, names=["_fit", None]).dropna(subset=["epoch"])
    groups = table.groupby([table.index.get_level_values("_fit"), "epoch"], sort=True)
    counts = groups.count().max()
    metrics = [c for c in table.columns if c not in ("epoch", "step") and counts[c] <= 1]
    rows = pd.concat([groups["step"].max(), groups[metrics].last()], axis=1).copy()
    rows = rows.reset_index().drop_duplicates("epoch", keep="last").sort_values("epoch")
    rows = rows.dropna(subset=metrics, how="all") if metrics else rows
    rows[["epoch", "step"]] = rows[["epoch", "step"]].astype("int64")
    return rows[["epoch", "step", *sorted(metrics)]].reset_index(drop=True)


def history_curves(history: Any) -> Any:
    """The history's whole-model curves (``epoch``, ``step``, ``train/loss``, ``val/loss``,
    ``knn/...``): every column but the per-question and per-campaign ones. A small table for
    ``dvc plots show`` (dvc.yaml's ``plots``)."""
    detail = ("_question/", "_campaign/")
    return history[[c for c in history.columns if not any(part in c for part in detail)]]


def build_trainer(
    config: TrainerConfig, workdir: str | Path, logger: Any = False, callbacks: list | None = None
):
    """Trainer from ``pretraining.trainer``; ``last.ckpt`` and ``best.ckpt`` go to workdir."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    directory = checkpoint_dir(workdir)
    all_callbacks = [
        # the epoch with the lowest val/loss: what evaluation and the encoder bundle use
        ModelCheckpoint(
            dirpath=directory,
            filename="best",
            monitor=MONITOR,
            mode="min",
            save_top_k=1,
            enable_version_counter=False,
        ),
        # every validation's end, what a killed run resumes from. Not `save_last=True`: Lightning
        # (2.6) then rewrites last.ckpt only at epochs that improved the monitored loss
        ModelCheckpoint(dirpath=directory, filename="last", enable_version_counter=False),
    ]
    if config.early_stopping_patience:
        all_callbacks.append(
            EarlyStopping(monitor=MONITOR, mode="min", patience=config.early_stopping_patience)
        )
    all_callbacks.extend(callbacks or [])
    optional = {
        key: getattr(config, key)
        for key in ("limit_train_batches", "limit_val_batches", "val_check_interval")
        if getattr(config, key) is not None
    }
    return pl.Trainer(
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        num_nodes=config.num_nodes,
        precision=config.precision,
        max_epochs=config.max_epochs,
        max_steps=config.max_steps or -1,
        gradient_clip_val=config.gradient_clip_val,
        accumulate_grad_batches=config.accumulate_grad_batches,
        log_every_n_steps=config.log_every_n_steps,
        check_val_every_n_epoch=config.check_val_every_n_epoch,
        deterministic=config.deterministic,
        benchmark=config.benchmark,
        enable_progress_bar=config.enable_progress_bar,
        enable_model_summary=config.enable_model_summary,
        num_sanity_val_steps=config.num_sanity_val_steps,
        default_root_dir=str(workdir),
        logger=logger,
        callbacks=all_callbacks,
        plugins=[AtomicCheckpointIO()],
        **optional,
    )


def chosen_checkpoint(workdir: str | Path) -> Path:
    """The best checkpoint on ``val/loss``, else the last one."""
    best = checkpoint_dir(workdir) / "best.ckpt"
    return best if best.is_file() else checkpoint_dir(workdir) / "last.ckpt"


def fit(
    datamodule: Any,
    config: PretrainingConfig,
    schema: Schema,
    seed: int,
    augment: nn.Module,
    callbacks: list | None = None,
) -> Path | None:
    """Fit (or resume, or skip when finished) and return the chosen checkpoint on rank 0.

    Ranks other than 0 (torchrun / srun) train and return None: only rank 0 has outputs.
    """
    import lightning.pytorch as pl

    check_launch(config.trainer)
    workdir = Path(config.workdir)
    resume_from, finished = prepare_workdir(workdir, config.fingerprint(schema.to_dict(), seed))
    if finished:
        logger.info("pretraining already finished in %s: using its best checkpoint", workdir)
    else:
        pl.seed_everything(seed, workers=True)
        module = TrainingModule(config, schema, augment)
        loggers = [mlflow_logger(config.mlflow), history_logger(workdir)]
        trainer = build_trainer(
            config.trainer, workdir, [one for one in loggers if one is not None], callbacks
        )
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
    return chosen_checkpoint(workdir) if process_rank() == 0 else None


def restore(
    checkpoint: str | Path, config: PretrainingConfig, schema: Schema, augment: nn.Module
) -> tuple[TrainingModule, dict]:
    """The trained core from a checkpoint (eval mode, CPU) and the checkpoint's progress
    (``global_step``, ``epoch``). Never unpickles: ``weights_only=True``."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    module = TrainingModule(config, schema, augment, pretrained=False)
    module.load_state_dict(state["state_dict"])
    progress = {
        "global_step": int(state["global_step"]),
        "epoch": int(state["epoch"]),
    }
    return module.eval(), progress


def evaluation_device(trainer: TrainerConfig) -> torch.device:
    """Where rank 0 evaluates after fit: the GPU when the trainer was allowed one."""
    wants_gpu = trainer.accelerator in ("gpu", "cuda", "auto")
    return torch.device("cuda" if wants_gpu and torch.cuda.is_available() else "cpu")


def autocast(precision: str | int, device: torch.device) -> Any:
    """The autocast context matching Lightning's ``precision`` (none for 32-bit)."""
    precision = str(precision)
    if "bf16" in precision:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision.startswith("16"):
        return torch.autocast(device_type=device.type, dtype=torch.float16)
    return contextlib.nullcontext()


def predict(module: TrainingModule, dataloader: Any, precision: str | int) -> dict:
    """Features, supervised-head outputs (when the objective has a head; eval views, no
    dropout), counts and keys for every galaxy of a loader."""
    device = next(module.parameters()).device
    module.eval()
    head = module.objective.head
    keys, features, outputs, counts = [], [], [], []
    with torch.inference_mode(), autocast(precision, device):
        for batch in dataloader:
            batch_features = module(module.augment.eval_view(batch["image"].to(device)))
            features.append(batch_features.float().cpu())
            if head is not None:
                outputs.append(head(batch_features).float().cpu())
            counts.append(batch["counts"].cpu())
            keys.extend(batch["key"])
    return {
        "key": keys,
        "features": torch.cat(features),
        "concentrations": torch.cat(outputs).numpy() if head is not None else None,
        "counts": torch.cat(counts).numpy(),
    }
