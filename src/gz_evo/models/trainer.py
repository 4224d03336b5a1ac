"""A Lightning Trainer built entirely from ``parameters_pretraining.yml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.loggers import MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only

from gz_evo.datasets.atomic import atomic_write_path

MONITOR = "val/loss"


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


def checkpoint_dir(workdir: str | Path) -> Path:
    return Path(workdir) / "checkpoints"


def build_trainer(
    config: dict, workdir: str | Path, logger: Any = False, callbacks: list | None = None
):
    """Trainer from ``pretraining.trainer``; checkpoints (``last.ckpt``, ``best.ckpt``) in workdir.

    Keys: accelerator, devices, strategy, num_nodes, precision, max_epochs, max_steps,
    gradient_clip_val, accumulate_grad_batches, early_stopping_patience, log_every_n_steps,
    val_check_interval, limit_{train,val}_batches, deterministic, enable_progress_bar.
    """
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    all_callbacks = [
        ModelCheckpoint(
            dirpath=checkpoint_dir(workdir),
            filename="best",
            monitor=MONITOR,
            mode="min",
            save_top_k=1,
            save_last=True,
            enable_version_counter=False,
        )
    ]
    patience = config.get("early_stopping_patience")
    if patience:
        all_callbacks.append(EarlyStopping(monitor=MONITOR, mode="min", patience=int(patience)))
    all_callbacks.extend(callbacks or [])
    optional = {
        key: config[key]
        for key in (
            "limit_train_batches",
            "limit_val_batches",
            "val_check_interval",
            "check_val_every_n_epoch",
        )
        if config.get(key) is not None
    }
    return pl.Trainer(
        accelerator=config.get("accelerator", "auto"),
        devices=config.get("devices", "auto"),
        strategy=config.get("strategy", "auto"),
        num_nodes=int(config.get("num_nodes", 1)),
        precision=config.get("precision", "32-true"),
        max_epochs=config.get("max_epochs"),
        max_steps=int(config.get("max_steps") or -1),
        gradient_clip_val=config.get("gradient_clip_val"),
        accumulate_grad_batches=int(config.get("accumulate_grad_batches", 1)),
        log_every_n_steps=int(config.get("log_every_n_steps", 50)),
        deterministic=config.get("deterministic", False),
        benchmark=config.get("benchmark"),
        enable_progress_bar=bool(config.get("enable_progress_bar", False)),
        enable_model_summary=bool(config.get("enable_model_summary", False)),
        num_sanity_val_steps=int(config.get("num_sanity_val_steps", 0)),
        default_root_dir=str(workdir),
        logger=logger,
        callbacks=all_callbacks,
        plugins=[AtomicCheckpointIO()],
        **optional,
    )
