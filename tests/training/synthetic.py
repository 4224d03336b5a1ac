"""A tiny in-memory GZ-Evo datamodule and augmentation with the images pipeline's batch contract.

Batches: ``{"image": uint8 [B,3,H,W], "counts": int32 [B,A], "labelled": bool [B], "key": [str]}``.
Each galaxy answers only its own campaign's questions; the first answer's vote share follows the
image's brightness, so a model can learn something in a few steps.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset

from gz_evo.schema import Schema
from gz_evo.training.config import PretrainingConfig
from tests.conftest import PROJECT_ROOT


def make_split(schema: Schema, n: int, size: int, seed: int, split: str) -> dict:
    rng = np.random.default_rng(seed)
    brightness = rng.uniform(0.1, 0.9, n)
    images = rng.normal(0, 20, (n, 3, size, size)) + 255 * brightness[:, None, None, None]
    images = np.clip(images, 0, 255).astype(np.uint8)
    counts = np.zeros((n, schema.n_answers), dtype=np.int32)
    campaigns = schema.campaigns
    keys = []
    for i in range(n):
        campaign = campaigns[i % len(campaigns)]
        keys.append(f"{campaign}/{split}{i}")
        for question in schema.campaign_questions(campaign):
            columns = schema.question_slices[question.name]
            k = columns.stop - columns.start
            p = np.full(k, (1 - brightness[i]) / (k - 1))
            p[0] = brightness[i]
            counts[i, columns] = rng.multinomial(int(rng.integers(5, 40)), p)
    return {"image": images, "counts": counts, "key": keys}


class SyntheticGalaxies(Dataset):
    def __init__(self, data: dict) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data["key"])

    def __getitem__(self, i: int) -> dict:
        return {
            "image": torch.from_numpy(self.data["image"][i]),
            "counts": torch.from_numpy(self.data["counts"][i]),
            "labelled": True,
            "key": self.data["key"][i],
        }


class EpochShuffle(torch.utils.data.Sampler):
    """A shuffle seeded by (seed, epoch): Lightning calls ``set_epoch``, so a resumed run reads
    the same order in its later epochs as an unbroken one (like the shard streams do)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n


class SyntheticDataModule(pl.LightningDataModule):
    def __init__(
        self, schema_dict: dict, n: int = 64, size: int = 16, batch_size: int = 16, seed: int = 0
    ) -> None:
        super().__init__()
        self.schema = Schema.from_dict(schema_dict)
        self.n, self.size, self.batch_size, self.seed = n, size, batch_size, seed
        self.splits: dict = {}

    def setup(self, stage: str | None = None) -> None:
        if not self.splits:
            for offset, split in enumerate(("train", "val", "test")):
                n = self.n if split == "train" else self.n // 2
                self.splits[split] = make_split(
                    self.schema, n, self.size, self.seed + offset, split
                )

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        galaxies = SyntheticGalaxies(self.splits[split])
        return DataLoader(
            galaxies,
            batch_size=self.batch_size,
            sampler=EpochShuffle(len(galaxies), self.seed) if shuffle else None,
            generator=torch.Generator().manual_seed(self.seed),
            drop_last=shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)


class SimpleAugment(nn.Module):
    """Stand-in for ``GalaxyAugment``: uint8 -> normalised float, random flips when training."""

    def __init__(self, size: int = 16, mean: float = 0.5, std: float = 0.25) -> None:
        super().__init__()
        self.size, self.mean, self.std = size, mean, std

    def eval_view(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0
        if x.shape[-1] != self.size:
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear")
        return (x - self.mean) / self.std

    def train_view(self, images: torch.Tensor) -> torch.Tensor:
        x = self.eval_view(images)
        flip = torch.rand(x.shape[0], device=x.device) < 0.5
        return torch.where(flip[:, None, None, None], x.flip(-1), x)

    def two_views(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.train_view(images), self.train_view(images)


def tiny_config(
    workdir: Path, method: str = "supervised", objectives: dict | None = None, **trainer: object
) -> PretrainingConfig:
    """conf/test's pretraining parameters: test_resnet, 2 epochs over every synthetic batch.

    ``objectives`` adds or replaces blocks of ``pretraining.objectives``."""
    params = yaml.safe_load((PROJECT_ROOT / "conf/test/parameters_pretraining.yml").read_text())
    params = params["pretraining"]
    params["workdir"] = str(workdir)
    params["method"] = method
    params["objectives"].update(objectives or {})
    params["optimizer"].update(lr=3e-3, weight_decay=0.01)
    params["trainer"].update(
        {"max_epochs": 2, "limit_train_batches": None, "limit_val_batches": None, **trainer}
    )
    return PretrainingConfig.from_params(params)


def train(
    schema: Schema,
    workdir: Path,
    seed: int = 0,
    augment: nn.Module | None = None,
    method: str = "supervised",
    objectives: dict | None = None,
    **trainer: object,
) -> tuple[Path | None, SyntheticDataModule, PretrainingConfig]:
    """Fit on 32 synthetic galaxies; (chosen checkpoint, data module, config)."""
    from gz_evo.training.run import fit

    config = tiny_config(workdir, method, objectives, **trainer)
    datamodule = SyntheticDataModule(schema.to_dict(), n=32, size=16, batch_size=16, seed=seed)
    checkpoint = fit(datamodule, config, schema, seed, augment or SimpleAugment(16))
    return checkpoint, datamodule, config


def evaluate(schema: Schema, checkpoint: Path, datamodule, config) -> dict:
    """Val and test metrics of a trained checkpoint, as the evaluation node computes them."""
    from gz_evo.evaluation.dirichlet import evaluation_metrics
    from gz_evo.training.run import predict, restore

    module, _ = restore(checkpoint, config, schema, SimpleAugment(16))
    datamodule.setup()
    metrics = {}
    for split, loader in (
        ("val", datamodule.val_dataloader()),
        ("test", datamodule.test_dataloader()),
    ):
        outputs = predict(module, loader, "32-true")
        metrics |= evaluation_metrics(
            outputs["concentrations"], outputs["counts"], schema, split, 20, 0.9
        )
    return metrics
