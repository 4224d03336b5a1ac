"""Run control: launch checks, the resumable work folder and its fingerprint."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gz_evo.training.run import check_launch, prepare_workdir
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
    assert prepare_workdir(work, "b") == (None, False)
    assert not (work / "checkpoints").exists()
