"""PCA, the nearest-neighbour index (the query itself comes first, with both backends), queries
by id and image file, and neighbour agreement against a known truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.science.catalog import ScienceInputError
from gz_evo.science.similarity import (
    IndexSettings,
    NeighbourIndex,
    SimilaritySearch,
    fit_pca,
    neighbour_agreement,
    project,
)


def _clusters(n_per: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 5, (3, 12))
    labels = np.repeat(np.arange(3), n_per)
    return centres[labels] + rng.normal(0, 0.5, (len(labels), 12)), labels


@pytest.mark.parametrize("faiss_above", [10_000, 0], ids=["sklearn", "faiss"])
def test_the_index_returns_the_query_itself_first(faiss_above: int) -> None:
    vectors, _ = _clusters()
    index = NeighbourIndex.build(vectors, IndexSettings(faiss_above, "Flat"))
    assert index.backend == ("faiss" if faiss_above == 0 else "sklearn")
    similarity, rows = index.search(vectors, 5)
    np.testing.assert_array_equal(rows[:, 0], np.arange(len(vectors)))
    np.testing.assert_allclose(similarity[:, 0], 1.0, atol=1e-5)
    assert (np.diff(similarity, axis=1) <= 1e-6).all()  # best first
    again = NeighbourIndex.from_arrays(index.to_arrays())
    np.testing.assert_array_equal(again.search(vectors, 5)[1], rows)


def test_pca_keeps_its_components_and_projects_new_galaxies() -> None:
    features, _ = _clusters()
    pca = fit_pca(features, 4, seed=0)
    assert pca["components"].shape == (4, 12) and pca["reduced"].shape == (60, 4)
    assert (np.diff(pca["explained_variance"]) <= 0).all()
    assert 0.5 < pca["explained_variance_ratio"].sum() <= 1.0
    np.testing.assert_allclose(project(features, pca), pca["reduced"], atol=1e-4)


def test_a_query_by_id_leaves_itself_out_and_an_unknown_id_is_named() -> None:
    features, labels = _clusters()
    pca = fit_pca(features, 4, seed=0)
    ids = np.array([f"g{i}" for i in range(len(features))])
    search = SimilaritySearch(
        ids, pca, NeighbourIndex.build(pca["reduced"], IndexSettings(10, "Flat"))
    )
    result = search.similar("g3", k=5)
    assert result["rank"].tolist() == [1, 2, 3, 4, 5] and "g3" not in result["id_str"].tolist()
    assert {labels[int(g[1:])] for g in result["id_str"]} == {labels[3]}
    with pytest.raises(ScienceInputError, match="'g999' is not in the indexed catalog"):
        search.similar("g999", k=5)


def test_a_query_by_image_file_finds_that_galaxy(tmp_path: Path) -> None:
    from gz_evo.models.bundle import encoder_from_bundle
    from gz_evo.science.catalog import CatalogSettings, embed_catalog, read_catalog
    from gz_evo.training.augment import GalaxyAugment
    from tests.science.fixtures import AUGMENT, image_catalog, tiny_bundle

    bundle = tiny_bundle()
    path = image_catalog(tmp_path, n=10)
    table = read_catalog(CatalogSettings(str(path), "id_str", "file_loc", None), "s")
    ids, features, _ = embed_catalog(
        {"e": encoder_from_bundle(bundle)}, GalaxyAugment(**AUGMENT), table, 16, 4, progress=False
    )
    pca = fit_pca(features["e"], 5, seed=0)
    index = NeighbourIndex.build(pca["reduced"], IndexSettings(100, "Flat"))
    search = SimilaritySearch(np.array(ids), pca, index, bundle)
    result = search.similar_to_image(tmp_path / "images/g4.png", k=3)
    assert result["id_str"][0] == "g4" and result["similarity"][0] > 0.999
    with pytest.raises(ScienceInputError, match="missing"):
        search.similar_to_image(tmp_path / "absent.png", k=3)


def test_neighbour_agreement_against_a_known_truth() -> None:
    features, labels = _clusters()
    properties = pd.DataFrame({"first": labels == 0, "cluster": labels.astype(str)})
    table = neighbour_agreement(features, properties, k=5, encoder="e").set_index("property")
    assert table.loc["first", "agreement"] == 1.0 and table.loc["cluster", "agreement"] == 1.0
    assert table.loc["first", "chance"] == pytest.approx(19 / 59)
    assert table.loc["cluster", "chance"] == pytest.approx(3 * 20 * 19 / (60 * 59))
    shuffled = properties.sample(frac=1.0, random_state=0).reset_index(drop=True)
    noise = neighbour_agreement(features, shuffled, k=5, encoder="e").set_index("property")
    assert noise.loc["cluster", "agreement"] < 0.6
