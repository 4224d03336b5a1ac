"""Hart et al. 2016 gz2_hart16.csv, in its 231-column layout, mapped to modern GZ2 names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.checks import IngestionError
from gz_evo.readers import read_gz2_hart
from gz_evo.schema import load_campaign
from tests.gz_fixtures import write_gz2_hart


def test_counts_map_to_modern_names_and_ids_stay_exact(tmp_path: Path):
    written = write_gz2_hart(tmp_path / "gz2", n=10)
    table = read_gz2_hart(
        written["path"], filename_mapping=written["mapping"], image_dir=written["image_dir"]
    )
    assert table["id_str"].tolist() == list(written["ids"])  # int64 ids, no float rounding
    assert table["id_str"][0] == "587732591714893851"
    schema = load_campaign("gz2")
    assert list(table.columns[6:]) == schema.answer_columns
    for column in schema.answer_columns:
        np.testing.assert_array_equal(table[column].to_numpy(), written["votes"][column])
    raw = pd.read_csv(written["path"])
    # bulge size: schema order dominant, obvious, just-noticeable, no = a13, a12, a11, a10
    np.testing.assert_array_equal(
        table["bulge-size-gz2_dominant"], raw["t05_bulge_prominence_a13_dominant_count"]
    )
    np.testing.assert_array_equal(
        table["bulge-size-gz2_no"], raw["t05_bulge_prominence_a10_no_bulge_count"]
    )
    assert not any("odd-feature" in c or "t08" in c for c in table.columns)
    assert table["image_path"][0] == f"{written['image_dir']}/10000.jpg"


def test_unknown_hart_count_column_is_an_error(tmp_path: Path):
    written = write_gz2_hart(tmp_path / "gz2", n=4)
    raw = pd.read_csv(written["path"])
    raw = raw.assign(**{"t12_clumpy_a39_yes_count": 0})
    raw.to_csv(written["path"], index=False)
    with pytest.raises(IngestionError, match="t12_clumpy_a39_yes_count"):
        read_gz2_hart(written["path"])


def test_gd_style_image_pattern(tmp_path: Path):
    written = write_gz2_hart(tmp_path / "gz2", n=3)
    table = read_gz2_hart(
        written["path"],
        image_pattern="{dr7objid[:6]}/{dr7objid}.jpg",
        image_dir="img",
        check_images=False,
    )
    assert table["image_path"][0] == "img/587732/587732591714893851.jpg"
