"""The exported checkpoint names no machine's folders and has the same bytes wherever it is made."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gz_evo.datasets.pretraining import CheckpointFileDataset


def _lightning_like(root: Path) -> dict:
    folder = root / "data/work/checkpoints"
    return {
        "epoch": 3,
        "state_dict": {"w": torch.arange(4.0)},
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val/loss'}": {
                "dirpath": str(folder),
                "best_model_path": str(folder / "best.ckpt"),
                "best_k_models": {str(folder / "best.ckpt"): torch.tensor(1.5)},
                "elsewhere": "/scratch/other/best.ckpt",
            }
        },
    }


@pytest.mark.parametrize("machine", ["one", "two"])
def test_checkpoint_paths_become_relative_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, machine: str
) -> None:
    project = tmp_path / machine / "project"
    project.mkdir(parents=True)
    monkeypatch.chdir(project)
    torch.save(_lightning_like(project), project / "source.ckpt")
    dataset = CheckpointFileDataset(str(project / "data/model.ckpt"))
    dataset.save(str(project / "source.ckpt"))
    saved = torch.load(dataset.load(), weights_only=True)
    state = next(iter(saved["callbacks"].values()))
    assert state["dirpath"] == "data/work/checkpoints"
    assert state["best_model_path"] == "data/work/checkpoints/best.ckpt"
    assert list(state["best_k_models"]) == ["data/work/checkpoints/best.ckpt"]
    assert state["elsewhere"] == "/scratch/other/best.ckpt"  # not inside the project: kept
    torch.testing.assert_close(saved["state_dict"]["w"], torch.arange(4.0))
    bytes_here = (project / "data/model.ckpt").read_bytes()
    other = tmp_path / "elsewhere" / "copy"
    other.mkdir(parents=True)
    monkeypatch.chdir(other)
    torch.save(_lightning_like(other), other / "source.ckpt")
    CheckpointFileDataset(str(other / "model.ckpt")).save(str(other / "source.ckpt"))
    assert (other / "model.ckpt").read_bytes() == bytes_here  # same bytes in another folder
