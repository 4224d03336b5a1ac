"""The similarity and anomaly pipelines end to end on a tiny encoder, a small catalog file and a
made-up truth table: features, PCA, index, a query by id, neighbours against the truth, the
anomaly ranking and the simulated expert rounds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets.arrays import NpzDataset
from gz_evo.pipelines.anomaly import create_pipeline as anomaly_pipeline
from gz_evo.pipelines.similarity import create_pipeline as similarity_pipeline
from gz_evo.science.catalog import ScienceInputError
from tests.conftest import PROJECT_ROOT
from tests.science.fixtures import image_catalog, tiny_bundle


def _params(name: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / f"conf/base/parameters_{name}.yml").read_text())[name]


def _run(tmp_path: Path, query: dict, with_truth: bool = True):
    """Run both pipelines; returns ``load(name)`` for any of their outputs."""
    path = image_catalog(tmp_path / "cat", n=30, bad=1)
    truth = tmp_path / "truth.parquet"
    if with_truth:
        ids = [f"g{i}" for i in range(30)]
        pd.DataFrame(
            {
                "id_str": ids,
                "merger": [i % 5 == 0 for i in range(30)],
                "kind": ["smooth", "featured"] * 15,
            }
        ).to_parquet(truth)
    similarity = {
        **_params("similarity"),
        "catalog": str(path),
        "image_column": "file_loc",
        "image_root": None,
        "pca_components": 6,
        "batch_size": 8,
        "progress_bar": False,
        "query": {**_params("similarity")["query"], **query, "image_size": 24},
        "truth": {"table": str(truth), "k": 3, "properties": {"merger": "merger", "kind": "kind"}},
    }
    anomaly = {
        **_params("anomaly"),
        "components": 4,
        "n_estimators": 20,
        "expert": {
            "truth": str(truth),
            "interesting": "merger",
            "rounds": 2,
            "labels_per_round": 4,
            "top_n": 5,
            "seeds": [0, 1],
        },
    }
    catalog = DataCatalog(
        {
            "pretrained_encoder": MemoryDataset(tiny_bundle()),
            "params:similarity": MemoryDataset(similarity),
            "params:anomaly": MemoryDataset(anomaly),
            "params:seed": MemoryDataset(0),
            **{
                name: NpzDataset(str(tmp_path / f"{name}.npz"))
                for name in ("similarity_features", "similarity_pca", "similarity_index")
            },
        }
    )
    outputs = SequentialRunner().run(similarity_pipeline() + anomaly_pipeline(), catalog)

    def load(name: str):
        return outputs[name].load() if name in outputs else catalog.load(name)

    return load


@pytest.mark.slow
def test_the_pipelines_index_query_and_score_against_the_truth(tmp_path: Path) -> None:
    load = _run(tmp_path, {"id": "g3", "k": 4})
    features = load("similarity_features")
    assert features["ids"].tolist() == [f"g{i}" for i in range(29)]
    assert features["bad_ids"].tolist() == ["g29"]
    assert features["gz_evo"].shape == features["random_init"].shape == (29, 96)
    pca = load("similarity_pca")
    assert pca["components"].shape == (6, 96) and len(pca["explained_variance_ratio"]) == 6
    index = load("similarity_index")
    assert str(index["backend"]) == "sklearn"
    results = load("similarity_results")
    assert results["query"].unique().tolist() == ["g3"] and len(results) == 4
    assert "g3" not in results["id_str"].tolist()
    assert set(load("similarity_query_figures")) == {"neighbours"}
    truth = load("similarity_truth")
    assert set(truth["encoder"]) == {"gz_evo", "random_init"}
    assert set(truth["property"]) == {"merger", "kind"} and truth["agreement"].between(0, 1).all()
    metrics = load("similarity_metrics")
    assert metrics["galaxies"] == 29 and set(metrics["merger"]) == {
        "chance",
        "gz_evo",
        "random_init",
    }
    ranking = load("anomaly_ranking")
    assert ranking["rank"].tolist() == list(range(1, 30))
    assert ranking["anomaly_score"].is_monotonic_decreasing
    rounds = load("anomaly_rounds")
    assert len(rounds) == 2 * 3 and rounds["labelled"].max() == 8
    anomaly_metrics = load("anomaly_metrics")
    assert anomaly_metrics["anomalies"] == 6 and anomaly_metrics["seeds"] == 2
    assert len(load("anomaly_mlflow_metrics")["found_model"]) == 3


@pytest.mark.slow
def test_an_image_query_works_and_a_catalog_outside_the_truth_skips_the_comparison(
    tmp_path: Path,
) -> None:
    image = tmp_path / "cat/images/g5.png"
    image_catalog(tmp_path / "cat", n=30, bad=1)
    load = _run(tmp_path, {"image": str(image), "k": 3}, with_truth=False)
    results = load("similarity_results")
    assert results["id_str"][0] == "g5" and results["similarity"][0] > 0.999
    assert load("similarity_metrics") == {"skipped": "catalog not in the demo truth"}
    assert load("anomaly_rounds").empty
    with pytest.raises(ScienceInputError, match="'nowhere' is not in the indexed catalog"):
        _run(tmp_path, {"id": "nowhere", "k": 3}, with_truth=False)
