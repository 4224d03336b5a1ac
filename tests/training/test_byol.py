"""BYOL and hybrid: the momentum target, the rescaled hybrid loss, w = 0, overfitting, resume."""

from __future__ import annotations

import copy
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from gz_evo.schema import load_schema
from gz_evo.training.core import TrainingModule, adamw
from tests.training.synthetic import SimpleAugment, make_split, tiny_config, train


@pytest.fixture(scope="module")
def schema():
    return load_schema(["dr5", "gz2"])


def _module(schema, tmp_path: Path, method: str, **objectives) -> TrainingModule:
    return TrainingModule(tiny_config(tmp_path, method, objectives), schema, SimpleAugment(16))


def _batch(schema, n: int = 16, seed: int = 0) -> dict:
    data = make_split(schema, n, 16, seed, "train")
    return {
        "image": torch.as_tensor(data["image"]),
        "counts": torch.as_tensor(data["counts"]),
        "labelled": torch.ones(n, dtype=torch.bool),
        "key": data["key"],
    }


def test_the_target_moves_exactly_by_the_momentum_rule_and_gets_no_gradient(
    schema, tmp_path: Path
) -> None:
    module = _module(schema, tmp_path, "byol")
    branches, encoder = module.objective.byol, module.encoder
    assert all(not p.requires_grad for p in branches.target_encoder.parameters())
    with torch.no_grad():  # online and target differ, so the rule is visible
        for parameter in encoder.parameters():
            parameter.add_(torch.randn_like(parameter))
    before = [p.clone() for p in branches.target_encoder.parameters()]
    online = [p.clone() for p in encoder.parameters()]
    logs = module.objective.before_step(encoder, step=3, total_steps=10)
    momentum = logs["momentum"]
    assert 0.9 < momentum < 1.0  # base 0.9 (conf/test), rising
    for old, new, current in zip(before, branches.target_encoder.parameters(), online, strict=True):
        # target <- m * target + (1 - m) * online, in float32 as written (bit for bit)
        assert torch.equal(new, old.mul(momentum).add(current, alpha=1 - momentum))
    assert branches.momentum(0, 10) == pytest.approx(0.9)
    assert branches.momentum(9, 10) == 1.0

    module.train()
    batch = _batch(schema)
    views = [module.augment.train_view(batch["image"]) for _ in range(2)]
    loss, logs = module.objective.loss(encoder, views, batch, "train")
    loss.backward()
    assert -1.0 <= float(loss) <= 1.0 and set(logs) == {"byol_loss"}
    assert all(p.grad is None for p in branches.target_encoder.parameters())
    assert all(p.grad is None for p in branches.target_projection.parameters())
    assert all(p.grad is not None for p in encoder.parameters())


def test_hybrid_rescales_the_supervised_term_to_the_contrastive_one(schema, tmp_path: Path) -> None:
    module = _module(schema, tmp_path, "hybrid", hybrid={"supervised_weight": 0.5})
    batch = _batch(schema)
    views = [module.augment.eval_view(batch["image"])] * 2
    torch.manual_seed(0)
    total, logs = module.objective.loss(module.encoder, views, batch, "train")
    byol_loss, supervised = logs["byol_loss"], logs["supervised_loss"]
    assert logs["rescale"] == pytest.approx(float(byol_loss.abs() / supervised))
    # w * (|L_byol| / L_sup) * L_sup = w * |L_byol|
    assert float(total) == pytest.approx(float(byol_loss + 0.5 * byol_loss.abs()), rel=1e-5)


def test_unlabelled_galaxies_add_nothing_to_the_supervised_term(schema, tmp_path: Path) -> None:
    module = _module(schema, tmp_path, "hybrid").eval()
    batch = _batch(schema, n=4)
    batch["counts"][2:] = 0  # two unlabelled galaxies
    views = [module.augment.eval_view(batch["image"])] * 2
    _, logs = module.objective.loss(module.encoder, views, batch, "val")
    features = module.encoder(views[0])
    head = module.objective.head
    from gz_evo.losses import dirichlet_multinomial_nll

    labelled_only = dirichlet_multinomial_nll(
        head(features[:2]),
        batch["counts"][:2],
        module.objective.dirichlet.question_index,
        schema.n_questions,
    ).per_question.sum()
    # the batch mean over 4 galaxies holds exactly the 2 labelled galaxies' loss
    torch.testing.assert_close(logs["supervised_loss"] * 4, labelled_only)


def test_weight_zero_leaves_the_dirichlet_head_untouched(schema, tmp_path: Path) -> None:
    def head_after_fit(weight: float, name: str) -> tuple[dict, dict]:
        pl.seed_everything(0)  # as fit does: the same initial weights
        initial = copy.deepcopy(_module(schema, tmp_path, "hybrid").objective.head.state_dict())
        checkpoint, _, _ = train(
            schema, tmp_path / name, method="hybrid",
            objectives={"hybrid": {"supervised_weight": weight}}, max_epochs=1,
        )  # fmt: skip
        state = torch.load(checkpoint, weights_only=True)["state_dict"]
        prefix = "objective.head."
        return initial, {
            k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)
        }

    initial, trained = head_after_fit(0.0, "w0")
    assert initial.keys() == trained.keys()
    assert all(torch.equal(initial[k], trained[k]) for k in initial)
    initial, trained = head_after_fit(1.0, "w1")
    assert not torch.equal(initial["linear.weight"], trained["linear.weight"])


@pytest.mark.parametrize("method", ["supervised", "byol", "hybrid"])
def test_each_method_overfits_a_tiny_batch(schema, tmp_path: Path, method: str) -> None:
    torch.manual_seed(0)
    module = _module(schema, tmp_path, method).train()
    optimiser = adamw(module.named_parameters(), module.config.optimizer)
    batch = _batch(schema, n=8)
    losses = []
    for step in range(40):
        module.objective.before_step(module.encoder, step, 40)
        views = [module.augment.eval_view(batch["image"])] * module.objective.n_views
        loss, _ = module.objective.loss(module.encoder, views, batch, "train")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    if method == "byol":  # negative cosine similarity: towards -1
        assert last < -0.9 and last < first - 0.1, losses
    else:
        assert last < 0.7 * first, losses


class Killed(Exception):
    """Stands for a kill: the process stops with whatever the work folder holds."""


class KillAtEpoch(pl.Callback):
    """Stop the run like a kill, once the checkpoint of the epoch before was written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            raise Killed


def test_a_killed_hybrid_run_resumes_to_the_weights_of_an_unbroken_run(
    schema, tmp_path: Path
) -> None:
    from gz_evo.training.run import fit
    from tests.training.synthetic import SyntheticDataModule

    def run(workdir: Path, callbacks: list) -> Path:
        config = tiny_config(workdir, "hybrid", max_epochs=3)
        data = SyntheticDataModule(schema.to_dict(), n=32, size=16, batch_size=16, seed=0)
        return fit(data, config, schema, 0, SimpleAugment(16), callbacks=callbacks)

    unbroken = torch.load(run(tmp_path / "a", []), weights_only=True)
    with pytest.raises(Killed):
        run(tmp_path / "b", [KillAtEpoch(2)])
    killed = torch.load(tmp_path / "b/checkpoints/last.ckpt", weights_only=True)
    assert killed["epoch"] == 1
    resumed = torch.load(run(tmp_path / "b", []), weights_only=True)
    assert resumed["global_step"] == unbroken["global_step"] == 6
    assert unbroken["state_dict"].keys() == resumed["state_dict"].keys()
    assert any(k.startswith("objective.byol.target_encoder.") for k in resumed["state_dict"])
    different = [
        key
        for key, value in unbroken["state_dict"].items()
        if not torch.equal(value, resumed["state_dict"][key])
    ]
    assert not different, different[:5]
