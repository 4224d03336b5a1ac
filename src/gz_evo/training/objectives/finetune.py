"""``finetune``: a linear head on a (pretrained) encoder for a downstream label, last blocks only.

The encoder's layers are ordered by timm's own ``group_matcher`` (stem first, then each block;
the layers :func:`timm.optim.param_groups_layer_decay` decays over). Only the last ``n_blocks``
of those layer groups train, the rest are frozen: no gradient, and kept in eval mode while
training (frozen batch-norm statistics and dropout do not move either). The optimiser gets one
learning rate per trained group, ``lr * layer_decay ** depth`` with depth 1 for the top group
(the head, depth 0, gets ``lr``), from timm's ``param_groups_layer_decay``; weight decay as in
:func:`gz_evo.training.core.adamw` (none on biases and 1-d parameters).

``kind``: ``binary`` (2 classes) or ``multiclass``: cross-entropy on integer class codes, epoch
``{stage}/loss`` and ``{stage}/accuracy``; ``regression``: mean squared error on float labels
(``n_classes`` = number of label columns), ``{stage}/loss`` and ``{stage}/mae``. Batches are the
downstream contract (:class:`gz_evo.training.data.DownstreamDataModule`): ``labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from gz_evo.training.objectives.base import Logs, Objective, StageMeans, register_objective

if TYPE_CHECKING:
    from gz_evo.schema import Schema
    from gz_evo.training.config import ModelConfig, OptimizerConfig

KINDS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class FinetuneOptions:
    """The downstream task (``kind``, ``n_classes``) and how much of the encoder trains."""

    kind: str
    n_classes: int
    n_blocks: int
    layer_decay: float
    dropout: float

    def __post_init__(self) -> None:
        path = "pretraining.objectives.finetune"
        if self.kind not in KINDS:
            raise ValueError(f"{path}.kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "binary" and self.n_classes != 2:
            raise ValueError(f"{path}.n_classes must be 2 for kind binary, got {self.n_classes}")
        if self.kind == "multiclass" and self.n_classes < 2:
            raise ValueError(
                f"{path}.n_classes must be at least 2 for kind multiclass, got {self.n_classes}"
            )
        if self.kind == "regression" and self.n_classes < 1:
            raise ValueError(
                f"{path}.n_classes (label columns) must be at least 1 for kind regression, "
                f"got {self.n_classes}"
            )
        if self.n_blocks < -1:
            raise ValueError(f"{path}.n_blocks must be -1 (all), 0 (head only) or more")
        if not 0.0 < self.layer_decay <= 1.0:
            raise ValueError(f"{path}.layer_decay must be in (0, 1], got {self.layer_decay}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{path}.dropout must be in [0, 1), got {self.dropout}")

    @property
    def classification(self) -> bool:
        return self.kind != "regression"


def layer_map(encoder: nn.Module) -> dict[str, int]:
    """Parameter name -> layer group (0: stem, ...), as timm's layer decay orders them."""
    from timm.models._manipulate import group_parameters

    if not hasattr(encoder, "group_matcher"):
        raise ValueError(
            f"finetune needs a timm encoder with group_matcher(); {type(encoder).__name__} has none"
        )
    return group_parameters(encoder, encoder.group_matcher(coarse=False), reverse=True)


@register_objective("finetune")
class FinetuneObjective(Objective):
    """Encoder (last ``n_blocks`` layer groups trained) -> dropout -> linear head."""

    n_views = 1
    Options = FinetuneOptions

    def __init__(self, *, encoder: nn.Module, schema: Schema, model: ModelConfig, **kwargs: Any):
        super().__init__(encoder=encoder, schema=schema, model=model, **kwargs)
        options: FinetuneOptions = self.options
        self.head = nn.Sequential(
            nn.Dropout(options.dropout), nn.Linear(encoder.num_features, options.n_classes)
        )
        self.layers = layer_map(encoder)
        self.n_layers = max(self.layers.values()) + 1
        n_blocks = self.n_layers if options.n_blocks == -1 else options.n_blocks
        if n_blocks > self.n_layers:
            raise ValueError(
                f"pretraining.objectives.finetune.n_blocks is {n_blocks} but "
                f"{model.architecture} has {self.n_layers} layer groups (-1 trains them all)"
            )
        #: the first layer group that trains (groups below it are frozen)
        self.first_trained = self.n_layers - n_blocks
        for name, parameter in encoder.named_parameters():
            parameter.requires_grad_(self.trained(name))
        self.frozen_modules = _frozen_modules(encoder)
        self.means = StageMeans(["loss", "accuracy" if options.classification else "mae"])

    def trained(self, name: str) -> bool:
        """Whether the encoder parameter ``name`` trains (unmatched names count as the top)."""
        return self.layers.get(name, self.n_layers - 1) >= self.first_trained

    # --- optimiser --------------------------------------------------------------------------
    def parameter_groups(self, encoder: nn.Module, config: OptimizerConfig) -> list[dict]:
        """Head groups at ``config.lr``, then the trained encoder groups from the top down at
        ``config.lr * layer_decay ** depth``; frozen parameters are absent."""
        from timm.optim import param_groups_layer_decay

        decay = self.options.layer_decay
        encoder_groups = param_groups_layer_decay(
            encoder,
            weight_decay=config.weight_decay,
            no_weight_decay_list=("*.bias",),  # adamw's rule: biases and 1-d parameters
            layer_decay=decay,
        )
        depths = {  # 1 for the top layer group
            id(parameter): self.n_layers - self.layers.get(name, self.n_layers - 1)
            for name, parameter in encoder.named_parameters()
        }
        groups = _decay_groups(self.head.named_parameters(), config, config.lr, "head")
        encoder_groups = [(depths[id(group["params"][0])], group) for group in encoder_groups]
        for depth, group in sorted(encoder_groups, key=lambda pair: pair[0]):
            group.pop("lr_scale")  # = decay ** (depth - 1): the head adds one more factor
            kind = "decay" if group["weight_decay"] else "no_decay"
            groups.append(
                {**group, "lr": config.lr * decay**depth, "name": f"encoder.top{depth}.{kind}"}
            )
        return groups

    # --- steps ------------------------------------------------------------------------------
    def loss(
        self, encoder: nn.Module, views: Sequence[torch.Tensor], batch: dict, stage: str
    ) -> tuple[torch.Tensor, Logs]:
        if stage == "train":  # the core's .train() reaches the frozen layers too: undo it
            for name in self.frozen_modules:
                encoder.get_submodule(name).eval()
        if "labels" not in batch:
            raise ValueError(
                "the finetune objective trains on downstream batches with labels "
                "(gz_evo.training.finetune, DownstreamDataModule), not GZ-Evo vote counts"
            )
        labels = batch["labels"]
        outputs = self.head(encoder(views[0]))
        if self.options.classification:
            if labels.is_floating_point():
                raise ValueError(
                    f"finetune kind {self.options.kind} needs integer class labels, got "
                    f"{labels.dtype}: use kind regression for a continuous label"
                )
            loss = nn.functional.cross_entropy(outputs, labels)
            score = (outputs.argmax(dim=1) == labels).float().mean()
        else:
            values = outputs.squeeze(1) if labels.ndim == 1 else outputs
            if values.shape != labels.shape:
                raise ValueError(
                    f"finetune regression: {self.options.n_classes} outputs for labels of "
                    f"shape {tuple(labels.shape[1:])}: set n_classes to the number of label columns"
                )
            if not labels.is_floating_point():
                raise ValueError(
                    "finetune kind regression needs float labels (a float column), got "
                    f"{labels.dtype}: use kind binary or multiclass for class codes"
                )
            loss = nn.functional.mse_loss(values, labels)
            score = (values - labels).abs().mean()
        name = "accuracy" if self.options.classification else "mae"
        self.means.update(stage, {"loss": loss, name: score}, len(labels))
        return loss, {}

    def epoch_metrics(self, stage: str) -> dict[str, float]:
        return self.means.compute(stage)


def _frozen_modules(encoder: nn.Module) -> list[str]:
    """The outermost submodules of ``encoder`` whose parameters are all frozen."""
    names: list[str] = []
    for name, module in encoder.named_modules():
        if not name or any(name.startswith(outer + ".") for outer in names):
            continue
        parameters = list(module.parameters())
        if parameters and not any(p.requires_grad for p in parameters):
            names.append(name)
    return names


def _decay_groups(named: Any, config: OptimizerConfig, lr: float, prefix: str) -> list[dict]:
    decay, no_decay = [], []
    for name, parameter in named:
        if parameter.requires_grad:
            (no_decay if parameter.ndim <= 1 or name.endswith(".bias") else decay).append(parameter)
    return [
        {"params": decay, "weight_decay": config.weight_decay, "lr": lr, "name": f"{prefix}.decay"},
        {"params": no_decay, "weight_decay": 0.0, "lr": lr, "name": f"{prefix}.no_decay"},
    ]
