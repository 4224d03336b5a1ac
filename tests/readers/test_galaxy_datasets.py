"""galaxy-datasets catalogues: train + test parquet, suffixed (float) counts, filename images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.checks import IngestionError
from gz_evo.readers import read_galaxy_datasets
from gz_evo.schema import load_campaign
from tests.gz_fixtures import write_galaxy_datasets


def test_train_and_test_are_concatenated_with_images_under_image_dir(tmp_path: Path):
    written = write_galaxy_datasets(tmp_path / "candels", n=10)
    table = read_galaxy_datasets(written["paths"], "candels", image_dir=written["image_dir"])
    assert sorted(table["id_str"]) == sorted(written["ids"])
    schema = load_campaign("candels")
    order = pd.Index(table["id_str"]).get_indexer(written["ids"])
    for column in schema.answer_columns:
        np.testing.assert_array_equal(table[column].to_numpy()[order], written["votes"][column])
    assert table["image_path"][0] == f"{written['image_dir']}/GDS_1000.jpg"


def test_without_image_dir_the_stored_file_loc_is_used(tmp_path: Path):
    written = write_galaxy_datasets(tmp_path / "candels", n=4)
    table = read_galaxy_datasets(written["paths"], "candels", check_images=False)
    assert table["image_path"][0].startswith("/share/nas2/")


def test_unknown_suffixed_question_is_an_error(tmp_path: Path):
    written = write_galaxy_datasets(tmp_path / "candels", n=4)
    frame = pd.read_parquet(written["paths"][0])
    frame["clump-shape-candels_round"] = 1.0
    frame.to_parquet(written["paths"][0])
    with pytest.raises(IngestionError, match="clump-shape-candels_round"):
        read_galaxy_datasets(written["paths"], "candels", image_dir=written["image_dir"])
