"""Sim-to-real, measured: an encoder pretrained on the demo universe alone, finetuned on real DECaLS
ring labels (``../shared/data/rings``), scores its held-out real galaxies above a logistic
regression on their raw pixels, both computed here on the same folds.

The encoder is pretrained in this module, as ``kedro run`` does it, on a smaller demo universe
(the decals campaigns at full size, the others cut down) so that the module takes minutes.
Every real galaxy is scored once, by the fold that held it out (5-fold cross-validation), so
the comparison rests on all 370 galaxies rather than on one small test split.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from gz_evo.config import merged
from gz_evo.datasets.pretraining import load_encoder_bundle
from gz_evo.evaluation.transfer import fit_linear_probe, score_predictions
from gz_evo.training.augment import GalaxyAugment
from gz_evo.training.data import DownstreamDataModule
from gz_evo.training.downstream import raw_pixels
from gz_evo.training.finetune import finetune_config, fit_finetune, predict_labels
from tests.conftest import PROJECT_ROOT, SHARED_DATA

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

PRETRAINING_PARAMETERS = PROJECT_ROOT / "conf/base/parameters_pretraining.yml"
FOLDS = 5
RAW_PIXEL_SIDE = 16  # as the downstream pipeline's raw_pixels baseline

#: the demo universe, cut down where it does not look like DECaLS (the real rings' survey)
UNIVERSE = {
    "demo": {
        "campaigns": {
            "gz2": {"n": 100},
            "candels": {"n": 60},
            "demo_deep": {"n": 60},
        },
        "unlabelled": {"n": 40},
        "downstream": {"n": 40},
    },
    "pretraining": {
        "monitor": {"knn": False},
        "mlflow": {"enabled": False},
    },
}

PROTOCOL = PROJECT_ROOT / "conf/base/parameters_downstream.yml"


def _finetune_changes() -> dict:
    """The downstream pipeline's finetuning protocol (downstream.finetune.changes), binary."""
    changes = yaml.safe_load(PROTOCOL.read_text())["downstream"]["finetune"]["changes"]
    return merged(changes, {"objectives": {"finetune": {"kind": "binary", "n_classes": 2}}})


@pytest.fixture(scope="module")
def demo_encoder(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The main encoder bundle of a kedro run (demo -> ... -> pretraining) on UNIVERSE."""
    if not SHARED_DATA.is_dir() and not os.environ.get("CI"):
        pytest.skip(f"real Galaxy Zoo data not found at {SHARED_DATA}")
    project = tmp_path_factory.mktemp("transfer_project")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    (project / "src").mkdir()
    cwd = Path.cwd()
    os.chdir(project)
    try:
        bootstrap_project(project)
        for pipelines, namespaces in ((["demo", "ingestion", "gz_evo", "images"], None),
                                      (["pretraining"], ["main"])):  # fmt: skip
            with KedroSession.create(project_path=project, runtime_params=UNIVERSE) as session:
                session.run(pipeline_names=pipelines, namespaces=namespaces)
    finally:
        os.chdir(cwd)
    return load_encoder_bundle(project / "data/06_models/gz_evo_encoder")


def _real_rings(shared: Path) -> pd.DataFrame:
    table = pd.read_csv(shared / "rings" / "catalog.csv")
    return table.rename(columns={"iauname": "id_str", "file_loc": "image_path"})


def _fold_splits(n: int, fold: int) -> np.ndarray:
    """Fold ``fold`` is the test split; a sixth of the rest validates (early stopping)."""
    order = np.random.default_rng(0).permutation(n)
    test = order[fold::FOLDS]
    rest = np.setdiff1d(order, test)
    val = np.random.default_rng(fold).choice(rest, size=len(rest) // 6, replace=False)
    splits = np.full(n, "train", dtype=object)
    splits[test], splits[val] = "test", "val"
    return splits


def _raw_pixel_probabilities(data: DownstreamDataModule, seed: int) -> np.ndarray:
    """A cross-validated logistic regression on raw pixels, fitted on train + val galaxies."""
    fit = [data.datasets[split] for split in ("train", "val")]
    x = np.concatenate([raw_pixels(d.images, RAW_PIXEL_SIDE) for d in fit])
    y = np.concatenate([d.labels.numpy() for d in fit])
    probe = fit_linear_probe(x, y, "binary", seed)
    return probe.predict_proba(raw_pixels(data.datasets["test"].images, RAW_PIXEL_SIDE))


def test_finetuned_demo_encoder_beats_raw_pixels_on_held_out_real_rings(
    shared_data: Path, demo_encoder: dict, tmp_path: Path
) -> None:
    table = _real_rings(shared_data)
    reference = demo_encoder["config"]
    pretraining = yaml.safe_load(PRETRAINING_PARAMETERS.read_text())["pretraining"]
    changes = _finetune_changes()
    finetuned, pixels, labels = [], [], []
    for fold in range(FOLDS):
        data = DownstreamDataModule(
            table.assign(split=_fold_splits(len(table), fold)),
            "ring",
            image_size=reference["image_size"],
            batch_size=changes["data"]["batch_size"],
            seed=fold,
            image_root=shared_data / "rings",
        )
        data.setup()
        assert data.bad.empty, data.bad
        config = finetune_config(pretraining, {**changes, "workdir": str(tmp_path / str(fold))})
        augment = GalaxyAugment.from_params(reference["augment"], seed=fold)
        module = fit_finetune(data, config, augment, demo_encoder, seed=fold)
        predicted = predict_labels(module, data.test_dataloader())
        finetuned.append(predicted["probabilities"])
        pixels.append(_raw_pixel_probabilities(data, fold))
        labels.append(predicted["labels"])
    y = np.concatenate(labels)
    assert len(y) == len(table) == 370  # every real galaxy scored once
    finetune_scores = _scores(y, np.concatenate(finetuned))
    pixel_scores = _scores(y, np.concatenate(pixels))
    summary = f"finetuned demo encoder {finetune_scores}; raw pixels {pixel_scores}"
    print(summary)
    assert finetune_scores["accuracy"] > pixel_scores["accuracy"], summary
    assert finetune_scores["roc_auc"] > pixel_scores["roc_auc"], summary


def _scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    return score_predictions(labels, probabilities.argmax(1), "binary", probabilities)
