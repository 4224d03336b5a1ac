"""Images per second: the project's Lightning training loop vs a bare PyTorch loop.

Same model (``TrainingModule`` with the ``supervised`` objective: timm encoder + Dirichlet head,
built from ``conf/base/parameters_pretraining.yml``), same batches (in-memory uint8 images
and sparse GZ-Evo counts), same batched ``GalaxyAugment``, same optimiser (AdamW + warm-up/cosine)
and gradient clipping, in one process; runs alternate and the best of each is kept, because the
machine may be shared. Lightning's loop also does what the project needs: the non-finite-loss check,
per-question/per-campaign loss aggregation and step logging. Run::

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


def pretraining_config(args):
    """The project's pretraining parameters, with the benchmark's architecture and optimiser."""
    from pathlib import Path

    import yaml

    from gz_evo.training.config import PretrainingConfig

    path = Path(__file__).resolve().parents[1] / "conf/base/parameters_pretraining.yml"
    params = yaml.safe_load(path.read_text())["pretraining"]
    params["model"]["architecture"] = args.architecture
    params["optimizer"].update(lr=1e-3, weight_decay=0.05, schedule="cosine", warmup_steps=2)
    return PretrainingConfig.from_params(params)


def build_module(schema, args):
    from gz_evo.training.augment import GalaxyAugment
    from gz_evo.training.core import TrainingModule

    torch.manual_seed(0)
    augment = GalaxyAugment(output_size=args.size, seed=0)
    return TrainingModule(pretraining_config(args), schema, augment)


def lightning_loop(schema, data, args) -> float:
    """Seconds for the timed steps (after ``args.warmup``) of Trainer.fit."""
    import lightning.pytorch as pl

    module = build_module(schema, args)
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


def bare_loop(schema, data, args) -> float:
    """Seconds for the same steps in plain PyTorch: augment, forward, loss, backward, clip, step."""
    from gz_evo.losses import dirichlet_multinomial_nll
    from gz_evo.training.core import warmup_cosine

    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    module = build_module(schema, args).to(device).train()
    decay = [p for p in module.parameters() if p.ndim > 1]
    no_decay = [p for p in module.parameters() if p.ndim <= 1]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3,
    )
    total = args.warmup + args.steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: warmup_cosine(step, 2, total, 0.01)
    )
    index = module.objective.dirichlet.question_index
    encoder, head = module.encoder, module.objective.head
    start = None
    for step, batch in enumerate(batches(data, args.batch, total)):
        if step == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        images = batch["image"].to(device)
        counts = batch["counts"].to(device)
        loss = dirichlet_multinomial_nll(
            head(encoder(module.augment.train_view(images))), counts, index, schema.n_questions
        ).loss
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimiser.step()
        scheduler.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


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
    best = {"lightning": float("inf"), "bare": float("inf")}
    for _ in range(args.rounds):
        best["bare"] = min(best["bare"], bare_loop(schema, data, args))
        best["lightning"] = min(best["lightning"], lightning_loop(schema, data, args))
    rate = {name: images / seconds for name, seconds in best.items()}
    print(
        f"{args.architecture} at {args.size} px, batch {args.batch}, {args.steps} timed steps, "
        f"{args.accelerator}, torch threads {torch.get_num_threads()}, schema {schema.name}"
    )
    print(f"bare PyTorch loop: {rate['bare']:8.1f} images/s")
    print(f"Lightning loop:    {rate['lightning']:8.1f} images/s")
    overhead = rate["bare"] / rate["lightning"] - 1
    print(f"Lightning overhead: {100 * overhead:+.1f}% (target <= 10%)")


if __name__ == "__main__":
    main()
