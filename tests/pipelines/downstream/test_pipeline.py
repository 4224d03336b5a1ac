"""The downstream pipeline end to end on a tiny task: every encoder, budget and seed probed once,
summaries, error reductions, figures and metrics written."""

from __future__ import annotations

from pathlib import Path

import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets import AtomicParquetDataset
from gz_evo.datasets.features import FeaturesDataset
from gz_evo.datasets.figures import FiguresDataset
from gz_evo.pipelines.downstream import create_pipeline
from gz_evo.pipelines.downstream.pipeline import ENCODER_INPUTS
from gz_evo.pipelines.pretraining.pipeline import OUTPUTS, VARIANTS
from tests.conftest import PROJECT_ROOT
from tests.training.downstream import downstream_catalog

BUNDLE_CONFIG = {
    "architecture": "test_resnet",
    "timm_kwargs": {},
    "method": "supervised",
    "image_size": 16,
    "augment": {"output_size": 16, "mean": [0.5] * 3, "std": [0.5] * 3},
}


def _bundle(method: str) -> dict:
    import torch

    from gz_evo.models.encoder import create_encoder

    torch.manual_seed(len(method))
    encoder = create_encoder("test_resnet")
    state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    return {"config": {**BUNDLE_CONFIG, "method": method}, "state_dict": state}


def _params(tmp_path: Path) -> dict:
    task = {"id_column": "id_str", "image_column": "image_path", "image_root": ".",
            "requires": None, "val_fraction": 0.25, "test_fraction": 0.25}  # fmt: skip
    return {
        "tasks": {
            "ring": {**task, "catalog": "downstream_catalog", "label": "ring", "kind": "binary"},
            "absent": {
                **task,
                "catalog": "x.csv",
                "label": "ring",
                "kind": "binary",
                "requires": str(tmp_path / "absent"),
            },
        },
        "baselines": ["random_init", "imagenet", "raw_pixels"],
        "raw_pixel_side": 4,
        "budgets": [4, 8, None, 1000],
        "seeds": [0, 1],
        "probe_folds": 2,
        "embed_batch_size": 8,
        "finetune": {
            "encoders": ["gz_evo_supervised", "random_init", "imagenet"],
            "budgets": [8, None],
            "seeds": [0],
            "workdir": str(tmp_path / "finetune"),
            "changes": {
                "data": {"batch_size": 4},
                "trainer": {"max_epochs": 1, "limit_train_batches": None},
                "monitor": {"knn": False},
                "mlflow": {"enabled": False},
            },
        },
    }


def _pretraining_params(tmp_path: Path) -> dict:
    text = (PROJECT_ROOT / "conf/test/parameters_pretraining.yml").read_text()
    return {**yaml.safe_load(text)["pretraining"], "workdir": str(tmp_path / "work")}


def test_the_pipeline_probes_every_encoder_budget_and_seed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    catalog = DataCatalog(
        {
            "downstream_catalog": MemoryDataset(downstream_catalog(tmp_path, n=24)),
            "pretrained_encoder": MemoryDataset(_bundle("supervised")),
            "hybrid.pretrained_encoder": MemoryDataset(_bundle("hybrid")),
            "params:downstream": MemoryDataset(_params(tmp_path)),
            "params:seed": MemoryDataset(0),
            "params:pretraining": MemoryDataset(_pretraining_params(tmp_path)),
            "downstream_probe_results": MemoryDataset(),
            "downstream_finetune_results": MemoryDataset(),
            "downstream_features": FeaturesDataset(str(out / "features")),
            "downstream_results": AtomicParquetDataset(str(out / "results.parquet")),
            "downstream_summary": AtomicParquetDataset(str(out / "summary.parquet")),
            "downstream_figures": FiguresDataset(str(out / "figures")),
        }
    )
    outputs = SequentialRunner().run(create_pipeline(), catalog)
    results = catalog.load("downstream_results")
    probes = results[results["protocol"] == "linear_probe"]
    encoders = ["gz_evo_supervised", "gz_evo_hybrid", "random_init", "raw_pixels"]  # no imagenet
    assert sorted(probes["encoder"].unique()) == sorted(encoders)
    assert set(results["task"]) == {"ring"}  # the absent task skipped
    # 12 training galaxies: budgets 4, 8 and all (12); 1000 is more than there are
    assert sorted(probes["budget"].unique()) == [4, 8, 12]
    assert len(probes) == len(encoders) * 3 * 2
    finetuned = results[results["protocol"] == "finetune"]
    assert sorted(zip(finetuned["encoder"], finetuned["budget"], strict=True)) == [
        ("gz_evo_supervised", 8), ("gz_evo_supervised", 12), ("random_init", 8),
        ("random_init", 12),
    ]  # fmt: skip
    cell = tmp_path / "finetune/ring/gz_evo_supervised/12/0"
    assert cell.is_dir() and not (cell / "checkpoints").exists()  # trained there, nothing kept
    assert results["error"].between(0, 1).all() and results["roc_auc"].between(0, 1).all()
    summary = catalog.load("downstream_summary")
    assert len(summary) == len(encoders) * 3 + 4
    reductions = outputs["downstream_error_reductions"].load()
    assert set(reductions["baseline"]) == {"random_init", "raw_pixels"}
    metrics = outputs["downstream_metrics"].load()
    assert set(metrics["ring"]["linear_probe"]) == set(encoders)
    assert set(metrics["ring"]["finetune"]) == {"gz_evo_supervised", "random_init"}
    assert "error_reduction_vs_random_init" in metrics["ring"]["finetune"]["gz_evo_supervised"]
    assert list(FiguresDataset(str(out / "figures")).load()) == ["ring"]
    assert (out / "figures" / "ring.png").stat().st_size > 1000
    cells = outputs["downstream_mlflow_cells"].load()
    assert len(cells) == len(encoders) + 2  # one per (task, encoder, protocol)
    cell = cells["ring/gz_evo_supervised/linear_probe"]
    assert [budget for budget, _ in cell["metrics"]["error"]] == [4, 8, 12]
    assert set(cell["figures"]) == {"label_efficiency.png"}
    mlflow_metrics = outputs["downstream_mlflow_metrics"].load()
    assert (
        mlflow_metrics["ring/linear_probe/gz_evo_supervised/error"]["value"]
        == metrics["ring"]["linear_probe"]["gz_evo_supervised"]["error"]
    )


def test_the_compared_encoders_are_the_ones_pretraining_writes() -> None:
    assert set(ENCODER_INPUTS) == {"pretrained_encoder"} | {
        f"{variant}.pretrained_encoder" for variant in VARIANTS
    }
    assert "pretrained_encoder" in OUTPUTS
