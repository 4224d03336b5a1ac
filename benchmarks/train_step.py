"""Images per second: the project's Lightning training loop vs a bare PyTorch loop.

Same model (``TrainingModule`` from ``conf/base/parameters_pretraining.yml``, with the
``supervised`` objective, then with ``hybrid``: BYOL + the Dirichlet head), same batches
(in-memory uint8 images and sparse GZ-Evo counts), same batched ``GalaxyAugment``, same optimiser
(AdamW + warm-up/cosine) and gradient clipping, in one process; runs alternate and the best of
each is kept, because the machine may be shared. Lightning's loop also does what the project
needs: the non-finite-loss check, per-question/per-campaign loss aggregation, epoch means and
step logging. The hybrid bare loop is written by hand on the same parts. Run::

    .venv/bin/python benchmarks/train_step.py [--architecture resnet10t] [--size 64] [--batch 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def make_data(schema, n: int, size: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    counts = np.zeros((n, schema.n_answers), dtype=np.int32)
    for row in range(n):
        campaign = schema.campaigns[row % len(schema.campaigns)]
        for question in schema.campaign_questions(campaign):
            cols = schema.question_slices[question.name]
            counts[row, cols] = rng.multinomial(
                20, np.ones(cols.stop - cols.start) / (cols.stop - cols.start)
            )
    return {
        "image": torch.as_tensor(rng.integers(0, 255, (n, 3, size, size), dtype=np.uint8)),
        "counts": torch.as_tensor(counts),
    }


def batches(data: dict, batch: int, steps: int):
    n = data["image"].shape[0]
    for step in range(steps):
        start = (step * batch) % (n - batch + 1)
        yield {
            "image": data["image"][start : start + batch],
            "counts": data["counts"][start : start + batch],
            "labelled": torch.ones(batch, dtype=torch.bool),
            "key": [f"g{i}" for i in range(start, start + batch)],
        }


class Batches(torch.utils.data.IterableDataset):
    def __init__(self, data: dict, batch: int, steps: int) -> None:
        self.data, self.batch, self.steps = data, batch, steps

    def __iter__(self):
        return batches(self.data, self.batch, self.steps)

    def __len__(self) -> int:
        return self.steps


def pretraining_config(args, method: str):
    """The project's pretraining parameters, with the benchmark's architecture, optimiser and
    method."""
    from pathlib import Path

    import yaml

    from gz_evo.training.config import PretrainingConfig

    path = Path(__file__).resolve().parents[1] / "conf/base/parameters_pretraining.yml"
    params = yaml.safe_load(path.read_text())["pretraining"]
    params["model"]["architecture"] = args.architecture
    params["method"] = method
    params["optimizer"].update(lr=1e-3, weight_decay=0.05, schedule="cosine", warmup_steps=2)
    return PretrainingConfig.from_params(params)


def build_module(schema, args, method: str):
    from gz_evo.training.augment import GalaxyAugment
    from gz_evo.training.core import TrainingModule

    torch.manual_seed(0)
    augment = GalaxyAugment(output_size=args.size, seed=0)
    return TrainingModule(pretraining_config(args, method), schema, augment)


def lightning_loop(schema, data, args, method: str) -> float:
    """Seconds for the timed steps (after ``args.warmup``) of Trainer.fit."""
    import lightning.pytorch as pl

    module = build_module(schema, args, method)
    marks: dict[str, float] = {}

    class Clock(pl.Callback):
        def on_train_batch_start(self, trainer, *_):
            if trainer.global_step == args.warmup:
                marks["start"] = time.perf_counter()

        def on_train_end(self, trainer, *_):
            marks["end"] = time.perf_counter()

    loader = torch.utils.data.DataLoader(
        Batches(data, args.batch, args.warmup + args.steps), batch_size=None
    )
    trainer = pl.Trainer(
        accelerator=args.accelerator,
        devices=1,
        max_steps=args.warmup + args.steps,
        gradient_clip_val=1.0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[Clock()],
    )
    trainer.fit(module, train_dataloaders=loader)
    return marks["end"] - marks["start"]


def _bare_optimiser(module, total: int):
    from gz_evo.training.core import warmup_cosine

    trained = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    decay = [p for n, p in trained if p.ndim > 1 and not n.endswith(".bias")]
    no_decay = [p for n, p in trained if p.ndim <= 1 or n.endswith(".bias")]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: warmup_cosine(step, 2, total, 0.01)
    )
    return optimiser, scheduler


def _timed_loop(module, data, args, step_loss) -> float:
    """Seconds for the timed steps of a hand-written loop: loss, backward, clip, step."""
    device = next(module.parameters()).device
    total = args.warmup + args.steps
    optimiser, scheduler = _bare_optimiser(module, total)
    trained = [p for p in module.parameters() if p.requires_grad]
    start = None
    for step, batch in enumerate(batches(data, args.batch, total)):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        loss = step_loss(step, total, batch["image"].to(device), batch["counts"].to(device))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimiser.step()
        scheduler.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def bare_loop(schema, data, args) -> float:
    """The supervised step in plain PyTorch: augment, forward, Dirichlet loss."""
    from gz_evo.losses import dirichlet_multinomial_nll

    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    module = build_module(schema, args, "supervised").to(device).train()
    index = module.objective.dirichlet.question_index
    encoder, head = module.encoder, module.objective.head

    def step_loss(step, total, images, counts):
        concentrations = head(encoder(module.augment.train_view(images)))
        return dirichlet_multinomial_nll(concentrations, counts, index, schema.n_questions).loss

    return _timed_loop(module, data, args, step_loss)


def bare_hybrid_loop(schema, data, args) -> float:
    """The hybrid step in plain PyTorch on the same parts: momentum update of the target
    (lightly's update_momentum, cosine schedule), two views, online and target forwards,
    symmetric negative cosine, Dirichlet head on the first view, the rescaled sum."""
    from lightly.models.utils import update_momentum
    from lightly.utils.scheduler import cosine_schedule

    from gz_evo.losses import dirichlet_multinomial_nll

    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    module = build_module(schema, args, "hybrid").to(device).train()
    encoder, objective = module.encoder, module.objective
    byol, head = objective.byol, objective.head
    index = objective.dirichlet.question_index
    weight = objective.options.supervised_weight

    def cosine(a, b):
        return -torch.nn.functional.cosine_similarity(a, b, dim=1).mean()

    def step_loss(step, total, images, counts):
        momentum = cosine_schedule(step, total, byol.base_momentum, 1.0)
        with torch.no_grad():
            update_momentum(encoder, byol.target_encoder, momentum)
            update_momentum(byol.projection, byol.target_projection, momentum)
        first, second = module.augment.two_views(images)
        features = encoder(first)
        online_first = byol.prediction(byol.projection(features))
        online_second = byol.prediction(byol.projection(encoder(second)))
        with torch.no_grad():
            target_first = byol.target_projection(byol.target_encoder(first))
            target_second = byol.target_projection(byol.target_encoder(second))
        byol_loss = 0.5 * (
            cosine(online_first, target_second) + cosine(online_second, target_first)
        )
        supervised = dirichlet_multinomial_nll(
            head(features), counts, index, schema.n_questions
        ).loss
        rescale = byol_loss.detach().abs() / supervised.detach().clamp(min=1e-8)
        return byol_loss + weight * rescale * supervised

    return _timed_loop(module, data, args, step_loss)


def main() -> None:
    import logging

    from gz_evo.schema import load_schema

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default="resnet10t")
    parser.add_argument("--schema", default="gz_evo_scaling")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--accelerator", default="cpu")
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    schema = load_schema(args.schema)
    data = make_data(schema, 4 * args.batch, args.size)
    images = args.batch * args.steps
    loops = {
        ("supervised", "bare"): lambda: bare_loop(schema, data, args),
        ("supervised", "lightning"): lambda: lightning_loop(schema, data, args, "supervised"),
        ("hybrid", "bare"): lambda: bare_hybrid_loop(schema, data, args),
        ("hybrid", "lightning"): lambda: lightning_loop(schema, data, args, "hybrid"),
    }
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(args.rounds):  # alternate, keep the best of each: the machine may be shared
        for key, loop in loops.items():
            best[key] = min(best[key], loop())
    rate = {key: images / seconds for key, seconds in best.items()}
    print(
        f"{args.architecture} at {args.size} px, batch {args.batch}, {args.steps} timed steps, "
        f"{args.accelerator}, torch threads {torch.get_num_threads()}, schema {schema.name}, "
        f"best of {args.rounds} rounds"
    )
    for method, target in (("supervised", 10), ("hybrid", 5)):
        overhead = rate[method, "bare"] / rate[method, "lightning"] - 1
        print(
            f"{method:10s}: bare PyTorch {rate[method, 'bare']:7.1f} images/s, Lightning "
            f"{rate[method, 'lightning']:7.1f} images/s, Lightning overhead {100 * overhead:+.1f}%"
            f" (target <= {target}%)"
        )
    cost = rate["supervised", "lightning"] / rate["hybrid", "lightning"]
    print(f"hybrid step vs supervised step (Lightning): {cost:.2f}x the time per image")


if __name__ == "__main__":
    main()
