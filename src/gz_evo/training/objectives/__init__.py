"""Training objectives by name (``pretraining.method``): the registry and the built-in methods.

``supervised``: the Dirichlet-multinomial loss on every GZ-Evo question (:mod:`.dirichlet`).
``byol``: BYOL from lightly's parts, two views, a momentum target network (:mod:`.byol`).
``hybrid``: BYOL with the Dirichlet head on the online branch (:mod:`.hybrid`).
``finetune``: a linear head for a downstream label, the encoder's last blocks trained with
layer-wise learning-rate decay (:mod:`.finetune`).
Add a method by writing an :class:`Objective` subclass decorated with
``@register_objective("name")`` in a module here and importing that module below.
"""

from gz_evo.training.objectives import byol, dirichlet, finetune, hybrid  # noqa: F401  (registers them)
from gz_evo.training.objectives.base import (
    NoOptions,
    Objective,
    create_objective,
    list_objectives,
    objective_class,
    objective_config,
    register_objective,
)

__all__ = [
    "NoOptions",
    "Objective",
    "create_objective",
    "list_objectives",
    "objective_class",
    "objective_config",
    "register_objective",
]
