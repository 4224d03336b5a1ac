"""The pretraining parameters as frozen dataclasses (``conf/base/parameters_pretraining.yml``).

Every knob's one default lives in that YAML file; :func:`gz_evo.config.from_params` refuses a
missing or unknown key with its full path. Objectives add their own block under
``pretraining.objectives.<method>`` (see :mod:`gz_evo.training.objectives`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from gz_evo.config import ConfigError, as_params, from_params, merged


def check_unlabelled_fraction(value: Any) -> float:
    """``value`` as a float if it is a number in [0, 1], else a ConfigError naming the key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(
            "pretraining.data.unlabelled_fraction must be a number in [0, 1] (0: no unlabelled "
            f"galaxies, 1: the whole unlabelled split each epoch), got {value!r}"
        )
    return float(value)


def check_train_fraction(value: Any) -> float:
    """``value`` as a float if it is a number in (0, 1], else a ConfigError naming the key."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(
            "pretraining.data.train_fraction must be a number in (0, 1] (1: the whole train "
            f"split, 0.25: a nested quarter of it), got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class DataConfig:
    """How batches are read: per-device ``batch_size``, loader workers, shuffling, the share of
    the train split trained on (``train_fraction``, a nested subset, (0, 1]) and the share of the
    unlabelled split mixed into each training epoch (``unlabelled_fraction``, 0 to 1)."""

    batch_size: int
    num_workers: int
    shuffle_buffer: int
    pin_memory: bool
    train_fraction: float
    unlabelled_fraction: float

    def __post_init__(self) -> None:
        check_train_fraction(self.train_fraction)
        check_unlabelled_fraction(self.unlabelled_fraction)


@dataclass(frozen=True)
class ModelConfig:
    """The timm encoder (``architecture``, ``timm_kwargs``, local pretrained weights, stochastic
    depth, NHWC layout) and the supervised head on top of it (``head`` by name, its dropout)."""

    architecture: str
    timm_kwargs: dict
    pretrained: bool
    weights_path: str | None
    head: str
    dropout: float
    drop_path_rate: float
    channels_last: bool


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW with a per-step schedule: ``cosine`` (linear warm-up, then cosine) or ``constant``."""

    lr: float
    weight_decay: float
    betas: tuple[float, float]
    schedule: str
    warmup_steps: int
    min_lr_factor: float

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(
                f"pretraining.optimizer.schedule must be cosine or constant: {self.schedule}"
            )


@dataclass(frozen=True)
class TrainerConfig:
    """Lightning Trainer knobs: where it runs (hardware) and how long."""

    accelerator: str
    devices: Any
    strategy: str
    num_nodes: int
    precision: str | int
    max_epochs: int | None
    max_steps: int | None
    gradient_clip_val: float | None
    accumulate_grad_batches: int
    early_stopping_patience: int | None
    log_every_n_steps: int
    val_check_interval: int | float | None
    check_val_every_n_epoch: int
    limit_train_batches: int | float | None
    limit_val_batches: int | float | None
    num_sanity_val_steps: int
    deterministic: bool | str
    benchmark: bool | None
    enable_progress_bar: bool
    enable_model_summary: bool


@dataclass(frozen=True)
class EvaluationConfig:
    """Test metrics: vote-fraction MAE needs ``min_votes``; intervals are ``interval`` central.
    Methods without a supervised head are scored through a Dirichlet linear probe fitted on
    frozen training features (at most ``probe_steps`` full-batch AdamW steps at ``probe_lr``, the
    step with the lowest validation loss kept)."""

    min_votes: int
    interval: float
    probe_steps: int
    probe_lr: float


@dataclass(frozen=True)
class MlflowConfig:
    """Per-epoch metrics into the ``kedro run``'s MLflow run, or a child run (``nested``)."""

    enabled: bool
    nested: bool
    run_name: str


@dataclass(frozen=True)
class MonitorConfig:
    """Metrics watched while training that change nothing learnt: ``knn`` turns on the kNN
    accuracy of the frozen encoder on the downstream catalog's ``labels`` columns
    (``knn/<label>`` each validation; :mod:`gz_evo.training.monitors`), with ``k`` neighbours,
    embedding ``batch_size`` galaxies at a time."""

    knn: bool
    labels: tuple[str, ...]
    k: int
    batch_size: int

    def __post_init__(self) -> None:
        if self.k < 1 or self.batch_size < 1:
            raise ValueError(
                f"pretraining.monitor.k and batch_size must be at least 1: {self.k}, "
                f"{self.batch_size}"
            )
        if self.knn and not self.labels:
            raise ValueError(
                "pretraining.monitor.labels is empty: name a label column or knn: false"
            )


#: trainer keys that change where or how fast training runs, not what it learns
HARDWARE_KEYS = ("accelerator", "devices", "strategy", "num_nodes", "enable_progress_bar")


@dataclass(frozen=True)
class PretrainingConfig:
    """All of ``pretraining``: the ``method`` (an objective's registered name) and its parts."""

    method: str
    workdir: str
    data: DataConfig
    model: ModelConfig
    optimizer: OptimizerConfig
    trainer: TrainerConfig
    evaluation: EvaluationConfig
    mlflow: MlflowConfig
    objectives: dict
    monitor: MonitorConfig

    @classmethod
    def from_params(cls, params: dict, changes: dict | None = None) -> PretrainingConfig:
        """Check ``params`` (the ``pretraining`` block), with a variant's ``changes`` merged in
        (``pretraining_variants.<name>``), and the chosen objective's own block."""
        from gz_evo.training.objectives import objective_config

        config = from_params(cls, merged(params, changes), "pretraining")
        objective_config(config.method, config.objectives)  # fails early, naming the key
        return config

    def objective_config(self) -> Any:
        """The typed configuration of this run's objective."""
        from gz_evo.training.objectives import objective_config

        return objective_config(self.method, self.objectives)

    def fingerprint(self, schema_dict: dict, seed: int) -> str:
        """A hash of everything that changes what is learnt (not MLflow, monitors, evaluation,
        workdir or hardware)."""
        relevant = as_params(self)
        for key in ("mlflow", "monitor", "evaluation", "workdir"):
            relevant.pop(key)
        for key in HARDWARE_KEYS:
            relevant["trainer"].pop(key)
        relevant["objectives"] = {self.method: relevant["objectives"].get(self.method)}
        if relevant["data"]["train_fraction"] == 1:
            # the whole train split, as before the knob existed: work folders stay valid
            relevant["data"].pop("train_fraction")
        text = json.dumps({"params": relevant, "schema": schema_dict, "seed": seed}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
