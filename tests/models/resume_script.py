"""A small real training run for the kill-and-resume test: ``python resume_script.py WORKDIR``."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import torch

from gz_evo.models.training import pretrain
from gz_evo.schema import load_schema
from tests.models.synthetic import SimpleAugment, SyntheticDataModule

EPOCHS, GALAXIES, BATCH = 4, 48, 8


class SlowAugment(SimpleAugment):
    """Slows each training step so that the test can kill the run between two checkpoints."""

    def train_view(self, images: torch.Tensor) -> torch.Tensor:
        time.sleep(0.1)
        return super().train_view(images)


def main(workdir: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    schema = load_schema(["dr5"])
    params = {
        "workdir": workdir,
        "model": {"architecture": "test_resnet"},
        "optimizer": {"lr": 1e-3, "schedule": "cosine"},
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": EPOCHS},
    }
    datamodule = SyntheticDataModule(schema.to_dict(), n=GALAXIES, size=16, batch_size=BATCH)
    result = pretrain(
        datamodule, schema.to_dict(), params, 0, SlowAugment(16), 16, {"mean": [0], "std": [1]}
    )
    print(f"FINISHED val/loss={result.metrics['val/loss']}", flush=True)
    Path(workdir, "result.txt").write_text(str(result.metrics["val/loss"]))


if __name__ == "__main__":
    main(sys.argv[1])
