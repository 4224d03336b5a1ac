"""Catalog and encoder checks: clear errors for a missing encoder, a catalog without images and
duplicate ids; the batched stream reports bad images without stopping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gz_evo.science.catalog import (
    CatalogSettings,
    ScienceInputError,
    iter_batches,
    read_catalog,
    resolve_bundle,
)
from tests.science.fixtures import image_catalog


def _settings(catalog, image_column: str = "file_loc") -> CatalogSettings:
    return CatalogSettings(catalog, "id_str", image_column, None)


def test_a_file_catalog_gets_paths_from_its_folder(tmp_path: Path) -> None:
    path = image_catalog(tmp_path, n=3)
    table = read_catalog(_settings(str(path)), "predict.catalog")
    assert table["id_str"].tolist() == ["g0", "g1", "g2"]
    assert Path(table["image_path"][0]) == tmp_path / "images/g0.png"


def test_sources_are_joined_and_embedded_bytes_serve_rows_without_a_path(tmp_path: Path) -> None:
    from tests.images.galaxies import encode, galaxy

    path = image_catalog(tmp_path, n=2)
    ingested = tmp_path / "ingested.parquet"
    pd.DataFrame(
        {"id_str": ["u1"], "image_path": [None], "image_bytes": [encode(galaxy(24))]}
    ).to_parquet(ingested)
    settings = CatalogSettings((str(ingested), str(path)), "id_str", "file_loc", None)
    with pytest.raises(ScienceInputError, match="no column 'file_loc'"):
        read_catalog(settings, "w")
    pd.read_csv(path).rename(columns={"file_loc": "image_path"}).to_csv(path, index=False)
    settings = CatalogSettings((str(ingested), str(path)), "id_str", "image_path", None)
    table = read_catalog(settings, "w")
    assert table["id_str"].tolist() == ["u1", "g0", "g1"]
    batch = next(iter_batches(table, 16, batch_size=3, progress=False))
    assert batch.ids == ["u1", "g0", "g1"] and batch.bad.empty


def test_a_catalog_without_images_is_refused_naming_the_column(tmp_path: Path) -> None:
    path = image_catalog(tmp_path, n=2)
    with pytest.raises(ScienceInputError, match="catalog without images: no column 'image'"):
        read_catalog(_settings(str(path), "image"), "predict.catalog")
    empty = tmp_path / "empty.csv"
    pd.DataFrame({"id_str": ["a", "b"], "file_loc": [None, None]}).to_csv(empty, index=False)
    with pytest.raises(ScienceInputError, match="every image cell is empty"):
        read_catalog(_settings(str(empty)), "predict.catalog")


def test_missing_sources_and_duplicate_ids_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ScienceInputError, match=r"nope\.csv does not exist"):
        read_catalog(_settings(str(tmp_path / "nope.csv")), "p.catalog")
    path = image_catalog(tmp_path, n=2)
    with pytest.raises(ScienceInputError, match="'g0' appears more than once \\(rows \\[0, 2\\]"):
        read_catalog(_settings((str(path), str(path))), "p.catalog")


def test_an_encoder_folder_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    assert resolve_bundle("pretrained_encoder", {"b": 1}, "predict.encoder") == {"b": 1}
    with pytest.raises(ScienceInputError, match="is not an encoder bundle"):
        resolve_bundle(str(tmp_path), None, "predict.encoder")


def test_the_stream_keeps_order_and_reports_bad_images(tmp_path: Path) -> None:
    path = image_catalog(tmp_path, n=7, bad=2)
    table = read_catalog(_settings(str(path)), "p")
    batches = list(iter_batches(table, 16, batch_size=3, progress=False))
    assert [len(b.ids) + len(b.bad) for b in batches] == [3, 3, 1]
    assert [i for b in batches for i in b.ids] == ["g0", "g1", "g2", "g3", "g4"]
    bad = pd.concat([b.bad for b in batches])
    assert bad["id_str"].tolist() == ["g5", "g6"] and set(bad["reason"]) == {"missing"}
    assert tuple(batches[0].images.shape) == (3, 3, 16, 16)
