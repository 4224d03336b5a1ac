"""The kNN monitor: logged each validation into MLflow, training bit-identical with or without it,
no random numbers drawn, encoder modes restored, and None (with a warning) when it cannot run."""

from __future__ import annotations

import dataclasses
import logging
import random
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch

from gz_evo.schema import load_schema
from gz_evo.training.config import MonitorConfig
from gz_evo.training.core import TrainingModule
from gz_evo.training.monitors import KNNMonitor, knn_monitor
from gz_evo.training.run import checkpoint_dir, fit, restore
from tests.training.downstream import downstream_catalog
from tests.training.synthetic import SimpleAugment, SyntheticDataModule, tiny_config

CONFIG = MonitorConfig(knn=True, labels=("ring", "tidal"), k=3, batch_size=8)


@pytest.fixture(scope="module")
def schema():
    return load_schema(["dr5", "gz2"])


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory):
    return downstream_catalog(tmp_path_factory.mktemp("downstream"), n=40)


def _monitor(catalog) -> KNNMonitor:
    monitor = knn_monitor(catalog, CONFIG, image_size=16, seed=0)
    assert monitor is not None
    return monitor


def _fit(schema, workdir: Path, callbacks=None, **trainer) -> dict:
    """Two epochs on the synthetic galaxies (seed 0); the last checkpoint's state_dict."""
    config = tiny_config(workdir, **trainer)
    datamodule = SyntheticDataModule(schema.to_dict(), n=32, size=16, batch_size=16, seed=0)
    fit(datamodule, config, schema, 0, SimpleAugment(16), callbacks=callbacks)
    last = checkpoint_dir(workdir) / "last.ckpt"
    return torch.load(last, map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize(
    "trainer",
    [{}, pytest.param({"strategy": "ddp_spawn", "devices": 2}, marks=pytest.mark.slow)],
    ids=["one-process", "ddp_spawn"],
)
def test_monitor_logs_knn_accuracy_into_mlflow_each_validation(
    schema, catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trainer: dict
) -> None:
    """Under DDP every rank computes the same numbers; rank 0 logs them once per epoch."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_experiment("knn")
    monitor = _monitor(catalog)
    with mlflow.start_run() as run:
        _fit(schema, tmp_path / "work", callbacks=[monitor], **trainer)
    client = mlflow.MlflowClient(uri)
    logged = {}
    for name in ("knn/ring", "knn/tidal"):
        history = client.get_metric_history(run.info.run_id, name)
        assert len(history) == 2, name  # one value per validation epoch (2 epochs)
        assert all(0.0 <= point.value <= 1.0 for point in history)
        logged[name] = history[-1].value
    metrics = client.get_run(run.info.run_id).data.metrics
    assert {key for key in metrics if key.startswith("knn/")} == set(logged)
    # the last value is the accuracy of the weights in last.ckpt (saved after that validation)
    module, _ = restore(
        checkpoint_dir(tmp_path / "work") / "last.ckpt",
        tiny_config(tmp_path),
        schema,
        SimpleAugment(16),
    )
    assert monitor.compute(module) == pytest.approx(logged, abs=1e-6)


class DrawsOneRandomNumber(KNNMonitor):
    """What the monitor must not do (a DataLoader's iterator draws its seed like this)."""

    def compute(self, pl_module, trainer=None):
        torch.rand(1)
        return super().compute(pl_module, trainer)


def test_training_is_bit_identical_with_and_without_the_monitor(
    schema, catalog, tmp_path: Path
) -> None:
    monitor = _monitor(catalog)
    without = _fit(schema, tmp_path / "without")
    with_monitor = _fit(schema, tmp_path / "with", callbacks=[monitor])
    assert without.keys() == with_monitor.keys()
    different = [k for k in without if not torch.equal(without[k], with_monitor[k])]
    assert not different, f"the monitor changed {different[:5]}"
    # the comparison can see a monitor that touches torch's global generator
    careless = DrawsOneRandomNumber(
        monitor.train_images,
        monitor.train_labels,
        monitor.eval_images,
        monitor.eval_labels,
        monitor.label_columns,
    )
    changed = _fit(schema, tmp_path / "careless", callbacks=[careless])
    assert any(not torch.equal(without[k], changed[k]) for k in without)


def test_compute_draws_no_random_numbers_and_restores_every_mode(
    schema, catalog, tmp_path: Path
) -> None:
    module = TrainingModule(tiny_config(tmp_path), schema, SimpleAugment(16))
    module.train()
    norm = next(m for m in module.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    norm.eval()  # a mixed state (e.g. frozen norms) must come back as it was
    modes = {name: m.training for name, m in module.named_modules()}
    seen = []
    module.encoder.register_forward_pre_hook(
        lambda m, _: seen.append((m.training, torch.is_grad_enabled()))
    )
    states = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    before = {k: v.clone() for k, v in module.state_dict().items()}

    metrics = _monitor(catalog).compute(module)

    assert set(metrics) == {"knn/ring", "knn/tidal"}
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    assert seen and set(seen) == {(False, False)}  # eval mode, no gradients
    assert {name: m.training for name, m in module.named_modules()} == modes
    assert torch.equal(torch.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1]) and random.getstate() == states[2]
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())  # BN stats too


def test_monitor_splits_like_the_downstream_module(catalog) -> None:
    from gz_evo.training.data import DownstreamDataModule

    monitor = _monitor(catalog)
    module = DownstreamDataModule(catalog, ["ring", "tidal"], image_size=16, seed=0)
    module.setup()
    train, val, test = (module.datasets[s] for s in ("train", "val", "test"))
    assert torch.equal(monitor.train_images, train.images)
    assert torch.equal(monitor.eval_images, torch.cat([val.images, test.images]))
    assert monitor.train_labels.shape == (len(train), 2)
    assert monitor.metric_names == ["knn/ring", "knn/tidal"] and monitor.k == 3


def test_no_monitor_when_off_or_when_the_catalog_cannot_serve(
    catalog, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gz_evo.training.monitors")
    assert knn_monitor(catalog, dataclasses.replace(CONFIG, knn=False), 16, 0) is None
    assert not caplog.records  # switched off: nothing to warn about
    assert knn_monitor(None, CONFIG, 16, 0) is None
    assert "no downstream catalog" in caplog.text
    caplog.clear()
    assert knn_monitor(catalog.drop(columns="tidal"), CONFIG, 16, 0) is None
    assert "no label column(s) ['tidal']" in caplog.text
    caplog.clear()
    continuous = dataclasses.replace(CONFIG, labels=("ring", "fraction"))
    assert knn_monitor(catalog, continuous, 16, 0) is None
    assert "['fraction'] hold continuous values" in caplog.text
    caplog.clear()
    assert knn_monitor(catalog.assign(split="train"), CONFIG, 16, 0) is None
    assert "0 val + test galaxies" in caplog.text


def test_monitor_config_is_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MonitorConfig(knn=True, labels=("ring",), k=0, batch_size=8)
    with pytest.raises(ValueError, match="labels is empty"):
        MonitorConfig(knn=True, labels=(), k=3, batch_size=8)
    MonitorConfig(knn=False, labels=(), k=3, batch_size=8)
