"""The active_learning pipeline end to end on a tiny pool, and its refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets import AtomicJSONDataset, AtomicParquetDataset
from gz_evo.datasets.figures import FiguresDataset
from gz_evo.evaluation.active import ActiveLearningError
from gz_evo.pipelines.active_learning import create_pipeline
from gz_evo.pipelines.active_learning.nodes import embed_pool
from gz_evo.simulate.morphology import sample_morphology
from tests.conftest import PROJECT_ROOT
from tests.images.galaxies import encode, galaxy

BEHAVIOUR = {"max_blur": 0.6, "agreement": 25.0}


def _bundle() -> dict:
    import torch

    from gz_evo.models.encoder import create_encoder

    torch.manual_seed(0)
    encoder = create_encoder("test_resnet")
    config = {
        "architecture": "test_resnet", "timm_kwargs": {}, "method": "supervised",
        "image_size": 16, "augment": {"output_size": 16, "mean": [0.5] * 3, "std": [0.5] * 3},
    }  # fmt: skip
    state = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    return {"config": config, "state_dict": state}


def _pool(tmp_path: Path, n: int = 24) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Truth for ``n`` galaxies; the first half unlabelled images, the rest downstream ones
    (one downstream file missing: a bad image, left out)."""
    truth = sample_morphology(n, np.random.default_rng(0))
    truth.insert(0, "id_str", [f"g{i}" for i in range(n)])
    truth["difficulty"] = 0.1
    paths = []
    for i in range(n):
        path = tmp_path / f"g{i}.png"
        if i != n - 1:
            path.write_bytes(encode(galaxy(20, seed=i)))
        paths.append(str(path))
    half = n // 2
    unlabelled = pd.DataFrame({"id_str": truth["id_str"][:half], "image_path": paths[:half]})
    downstream = pd.DataFrame(
        {"id_str": truth["id_str"][half:], "image_path": paths[half:], "ring": 0}
    )
    return truth, unlabelled, downstream


def _params() -> dict:
    text = (PROJECT_ROOT / "conf/test/parameters_active_learning.yml").read_text()
    return yaml.safe_load(text)["active_learning"]


@pytest.mark.slow
def test_the_pipeline_runs_both_acquisitions_and_writes_the_summary(tmp_path: Path) -> None:
    truth, unlabelled, downstream = _pool(tmp_path)
    out = tmp_path / "out"
    catalog = DataCatalog(
        {
            "pretrained_encoder": MemoryDataset(_bundle()),
            "unlabelled_images": MemoryDataset(unlabelled),
            "downstream_catalog": MemoryDataset(downstream),
            "demo_truth": MemoryDataset(truth),
            "params:active_learning": MemoryDataset(_params()),
            "params:demo.volunteers": MemoryDataset(BEHAVIOUR),
            "params:seed": MemoryDataset(42),
            "active_learning_votes": AtomicParquetDataset(str(out / "votes.parquet")),
            "active_learning_results": AtomicParquetDataset(str(out / "results.parquet")),
            "active_learning_summary": AtomicParquetDataset(str(out / "summary.parquet")),
            "active_learning_figures": FiguresDataset(str(out / "figures")),
            "active_learning_metrics": AtomicJSONDataset(str(out / "metrics.json")),
            "active_learning_mlflow_metrics": MemoryDataset(),
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    votes = catalog.load("active_learning_votes")
    assert len(votes) == 23 and "g23" not in set(votes["id_str"])  # the missing image left out
    assert votes.filter(like="smooth-or-featured-dr5_").sum(axis=1).ge(3).all()
    results = catalog.load("active_learning_results")
    loop = results[results["strategy"].isin(["bald", "random"])]
    assert sorted(loop["labelled"].unique()) == [4, 6, 8]  # 4 + 2 rounds x 2
    assert set(results["strategy"]) == {"bald", "random", "all_candidates", "uniform", "oracle"}
    assert np.isfinite(results["test_loss"]).all()
    summary = catalog.load("active_learning_summary")
    assert len(summary) == 2 * 3 + 3
    metrics = catalog.load("active_learning_metrics")
    assert metrics["bald"]["final_labelled"] == 8 and "random_minus_bald_final" in metrics
    assert (out / "figures" / "learning_curves.png").is_file()
    curves = catalog.load("active_learning_mlflow_metrics")
    assert [m["step"] for m in curves["bald/test_loss"]] == [4, 6, 8]


def test_a_missing_encoder_or_imageless_pool_is_refused(tmp_path: Path) -> None:
    _, unlabelled, downstream = _pool(tmp_path, n=6)
    with pytest.raises(
        ActiveLearningError, match=r"no pretrained encoder.*--pipelines pretraining"
    ):
        embed_pool(None, unlabelled, downstream, _params())
    blind = downstream.assign(image_path=None)
    with pytest.raises(ActiveLearningError, match="catalog downstream_catalog has no images"):
        embed_pool(_bundle(), unlabelled, blind, _params())
