"""What every objective is, and the registry that creates one by name (like timm's models).

An objective is a small ``nn.Module`` that owns what one training method adds to the shared core
(:class:`gz_evo.training.core.TrainingModule`): its heads, its loss and the metrics it logs. It
declares how many augmented views of each batch it needs (``n_views``) and returns
``(loss, logs)`` from :meth:`Objective.loss`, as lightly's add-on losses do. New methods are new
objectives registered with :func:`register_objective`; the core never changes for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import torchmetrics
from torch import nn

from gz_evo.config import from_params

if TYPE_CHECKING:
    import torch

    from gz_evo.schema import Schema
    from gz_evo.training.config import ModelConfig, OptimizerConfig

Logs = dict[str, "torch.Tensor | float"]


@dataclass(frozen=True)
class NoOptions:
    """An objective without knobs of its own (its block in ``pretraining.objectives`` is ``{}``)."""


class Objective(nn.Module):
    """Base class: heads + loss of one training method, on top of the core's encoder.

    Subclasses set ``n_views`` (augmented training views per batch), ``Options`` (a frozen
    dataclass of their knobs, read from ``pretraining.objectives.<name>``) and ``head`` (the
    supervised head exported with the encoder, or None), and implement :meth:`loss`. The encoder
    is passed to every call rather than stored, so that it is registered (and saved) once, in
    the core.
    """

    n_views: ClassVar[int] = 1
    Options: ClassVar[type] = NoOptions
    #: other objectives whose option blocks this one reads too (hybrid reads ``byol``'s)
    uses: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        encoder: nn.Module,
        schema: Schema,
        model: ModelConfig,
        options: Any,
        used: dict[str, Any] | None = None,
    ) -> None:
        """``options``: this objective's typed block; ``used``: the blocks named in ``uses``."""
        super().__init__()
        self.options = options
        self.head: nn.Module | None = None

    def loss(
        self, encoder: nn.Module, views: Sequence[torch.Tensor], batch: dict, stage: str
    ) -> tuple[torch.Tensor, Logs]:
        """``(loss, logs)`` for a batch; ``stage`` is ``train`` or ``val`` (metrics kept apart).

        ``views`` holds ``n_views`` augmented views in training and one evaluation view in
        validation; ``logs`` are per-step scalars that the core logs as ``{stage}/{name}``.
        """
        raise NotImplementedError

    def before_step(self, encoder: nn.Module, step: int, total_steps: int) -> Logs:
        """Called before each training step (e.g. momentum updates); returns logs."""
        return {}

    def epoch_metrics(self, stage: str) -> dict[str, float]:
        """Metrics accumulated over the epoch of ``stage`` (then reset); must hold ``val/loss``."""
        return {}

    def parameter_groups(self, encoder: nn.Module, config: OptimizerConfig) -> list[dict] | None:
        """The optimiser's parameter groups (``params``, ``lr``, ``weight_decay``, ...), or None
        for the core's default (:func:`gz_evo.training.core.adamw` over every parameter that
        takes a gradient). Objectives that freeze layers or decay learning rates layer by layer
        return their own; they must cover every parameter that takes a gradient, once."""
        return None

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """The supervised head's output for encoder features (objectives with a ``head``)."""
        if self.head is None:
            raise ValueError(f"the {type(self).__name__} objective has no supervised head")
        return self.head(features)


class StageMeans(nn.Module):
    """Epoch means of per-step scalars, per stage (synchronised across ranks)."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__()
        self.names = tuple(names)
        self.train_means = nn.ModuleList(torchmetrics.MeanMetric() for _ in self.names)
        self.val_means = nn.ModuleList(torchmetrics.MeanMetric() for _ in self.names)

    def _means(self, stage: str) -> nn.ModuleList:
        return self.train_means if stage == "train" else self.val_means

    def update(self, stage: str, values: dict[str, torch.Tensor], weight: int) -> None:
        for name, mean in zip(self.names, self._means(stage), strict=True):
            mean.update(values[name].detach(), weight)

    def compute(self, stage: str) -> dict[str, float]:
        """``{stage}/{name}`` for every name, then reset."""
        result = {}
        for name, mean in zip(self.names, self._means(stage), strict=True):
            result[f"{stage}/{name}"] = float(mean.compute())
            mean.reset()
        return result


_REGISTRY: dict[str, type[Objective]] = {}

ObjectiveType = TypeVar("ObjectiveType", bound=type[Objective])


def register_objective(name: str) -> Callable[[ObjectiveType], ObjectiveType]:
    """Class decorator: make the objective available as ``pretraining.method: <name>``."""

    def register(cls: ObjectiveType) -> ObjectiveType:
        if name in _REGISTRY:
            raise ValueError(f"objective {name!r} is registered twice")
        _REGISTRY[name] = cls
        return cls

    return register


def list_objectives() -> list[str]:
    """The registered method names, sorted."""
    return sorted(_REGISTRY)


def objective_class(name: str) -> type[Objective]:
    """The objective registered as ``name``; an unknown name is refused, listing the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown pretraining.method {name!r}; known methods: {', '.join(list_objectives())}"
        ) from None


def objective_config(name: str, blocks: dict) -> Any:
    """The typed options of objective ``name`` from ``pretraining.objectives`` (and, checked
    too, those of the objectives it ``uses``)."""
    cls = objective_class(name)
    for used in cls.uses:
        objective_config(used, blocks)
    if name not in blocks:
        raise ValueError(
            f"pretraining.objectives has no block for method {name!r}; add "
            f"`pretraining.objectives.{name}` (see conf/base/parameters_pretraining.yml)"
        )
    return from_params(cls.Options, blocks[name] or {}, f"pretraining.objectives.{name}")


def create_objective(
    name: str, *, encoder: nn.Module, schema: Schema, model: ModelConfig, blocks: dict
) -> Objective:
    """Build objective ``name`` for ``encoder`` (read, never stored) and ``schema``."""
    cls = objective_class(name)
    used = {other: objective_config(other, blocks) for other in cls.uses}
    return cls(
        encoder=encoder,
        schema=schema,
        model=model,
        options=objective_config(name, blocks),
        used=used,
    )
