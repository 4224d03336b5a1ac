"""Run control: launch checks, the resumable work folder and its fingerprint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gz_evo.training.run import (
    HISTORY,
    check_launch,
    history_curves,
    prepare_workdir,
    read_history,
)
from tests.training.synthetic import tiny_config


def _trainer(tmp_path: Path, **changes):
    return dataclasses.replace(tiny_config(tmp_path).trainer, **changes)


def test_plain_ddp_without_a_launcher_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ValueError, match="ddp_spawn"):
        check_launch(_trainer(tmp_path, strategy="ddp", devices=2))
    with pytest.raises(ValueError, match="ddp_spawn"):  # auto picks ddp for several devices
        check_launch(_trainer(tmp_path, strategy="auto", devices=2))
    check_launch(_trainer(tmp_path, strategy="auto", devices=1))
    check_launch(_trainer(tmp_path, strategy="auto", devices="auto", accelerator="cpu"))
    check_launch(_trainer(tmp_path, strategy="ddp_spawn", devices=2))
    check_launch(_trainer(tmp_path, strategy="ddp", devices=1))
    monkeypatch.setenv("RANK", "0")
    check_launch(_trainer(tmp_path, strategy="ddp", devices=4, num_nodes=2))  # torchrun started us


def test_fingerprint_ignores_hardware_mlflow_and_monitors_but_not_what_is_learnt(
    tmp_path: Path,
) -> None:
    config = tiny_config(tmp_path)
    key = config.fingerprint({"name": "s"}, 0)
    moved = dataclasses.replace(
        config,
        workdir="elsewhere",
        trainer=dataclasses.replace(config.trainer, accelerator="gpu", devices=4),
        mlflow=dataclasses.replace(config.mlflow, nested=True),
        monitor=dataclasses.replace(config.monitor, knn=False, labels=("ring",), k=3),
    )
    assert moved.fingerprint({"name": "s"}, 0) == key
    assert config.fingerprint({"name": "s"}, 1) != key
    assert config.fingerprint({"name": "t"}, 0) != key
    changed = dataclasses.replace(config, model=dataclasses.replace(config.model, dropout=0.3))
    assert changed.fingerprint({"name": "s"}, 0) != key
    subset = dataclasses.replace(config, data=dataclasses.replace(config.data, train_fraction=0.5))
    assert subset.fingerprint({"name": "s"}, 0) != key


def test_a_changed_configuration_starts_afresh(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "checkpoints").mkdir(parents=True)
    (work / "checkpoints" / "last.ckpt").write_bytes(b"x")
    assert prepare_workdir(work, "a") == (work / "checkpoints" / "last.ckpt", False)
    (work / "done.json").write_text("{}")
    assert prepare_workdir(work, "a") == (work / "checkpoints" / "last.ckpt", True)
    (work / HISTORY / "version_0").mkdir(parents=True)
    assert prepare_workdir(work, "b") == (None, False)
    assert not (work / "checkpoints").exists()
    assert not (work / HISTORY).exists(), "the old fit's curves went with its checkpoints"


def _csv(path: Path, text: str) -> None:
    path.mkdir(parents=True)
    (path / "metrics.csv").write_text(text)


def test_history_is_one_row_per_epoch_and_a_resumed_fit_wins(tmp_path: Path) -> None:
    """CSVLogger rows: step losses (several per epoch, left out), epoch means (kept); a fit
    killed during epoch 1 and resumed (version_1) logs epoch 1 again: its values win."""
    header = "epoch,step,train/step_loss,train/loss,val/loss,val/loss_campaign/a\n"
    _csv(
        tmp_path / HISTORY / "version_0",
        header + "0,0,5.0,,,\n0,1,4.0,,,\n0,1,,,3.5,3.6\n0,1,,4.5,,\n"
        "1,2,3.9,,,\n1,3,3.8,,,\n1,3,,,9.9,9.9\n",
    )
    _csv(
        tmp_path / HISTORY / "version_1",
        header + "1,2,3.7,,,\n1,3,3.6,,,\n1,3,,,3.0,3.1\n1,3,,3.65,,\n",
    )
    history = read_history(tmp_path)
    assert list(history.columns) == [
        "epoch",
        "step",
        "train/loss",
        "val/loss",
        "val/loss_campaign/a",
    ]
    assert history["epoch"].tolist() == [0, 1] and history["step"].tolist() == [1, 3]
    assert history["val/loss"].tolist() == [3.5, 3.0]
    assert history["train/loss"].tolist() == [4.5, 3.65]
    curves = history_curves(history)
    assert list(curves.columns) == ["epoch", "step", "train/loss", "val/loss"]
    assert curves["val/loss"].tolist() == [3.5, 3.0]


def test_no_logs_give_an_empty_history(tmp_path: Path) -> None:
    history = read_history(tmp_path)
    assert history.empty and list(history.columns) == ["epoch", "step"]
    assert list(history_curves(history).columns) == ["epoch", "step"]


def test_last_checkpoint_is_the_last_epoch_even_when_it_did_not_improve(tmp_path: Path) -> None:
    """A killed run resumes where it stopped, not at its best epoch (Lightning's save_last=True
    rewrites last.ckpt only at improving epochs)."""
    import lightning.pytorch as pl
    import torch

    from gz_evo.schema import load_schema
    from gz_evo.training.run import checkpoint_dir, fit
    from tests.training.synthetic import SimpleAugment, SyntheticDataModule

    class WorseEveryEpoch(pl.Callback):
        def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            trainer.callback_metrics["val/loss"] = torch.tensor(float(trainer.current_epoch))

    schema = load_schema(["dr5"])
    config = tiny_config(tmp_path / "work", max_epochs=3)
    data = SyntheticDataModule(schema.to_dict(), n=16, size=16, batch_size=8, seed=0)
    fit(data, config, schema, 0, SimpleAugment(16), callbacks=[WorseEveryEpoch()])
    epochs = {
        name: torch.load(checkpoint_dir(tmp_path / "work") / f"{name}.ckpt", weights_only=True)[
            "epoch"
        ]
        for name in ("best", "last")
    }
    assert epochs == {"best": 0, "last": 2}
