"""GZ DECaLS release tables: the gz_decals_volunteers_5 layout, and the real panoptes.csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.checks import IngestionError, validate_canonical
from gz_evo.readers import read_decals
from gz_evo.schema import load_campaign
from tests.gz_fixtures import write_decals


def test_release_table_maps_by_name_to_suffixed_columns_with_pattern_images(tmp_path: Path):
    written = write_decals(tmp_path / "dr5", n=12)
    table = read_decals(
        written["path"],
        "dr5",
        image_dir=written["image_dir"],
        image_pattern="{iauname[:4]}/{iauname}.png",
    )
    schema = load_campaign("dr5")
    validate_canonical(table, schema.answer_columns, "test")
    assert list(table.columns[6:]) == schema.answer_columns
    assert table["id_str"].tolist() == list(written["ids"])
    for column in schema.answer_columns:
        np.testing.assert_array_equal(table[column].to_numpy(), written["votes"][column])
    first = written["ids"][0]
    assert table["image_path"][0] == f"{written['image_dir']}/{first[:4]}/{first}.png"
    assert table["image_bytes"].isna().all()


def test_the_same_file_read_as_dr8_gets_dr8_suffixes(tmp_path: Path):
    written = write_decals(tmp_path / "dr5", n=5, images=False)
    table = read_decals(written["path"], "dr8")
    assert "bar-dr8_strong" in table.columns and set(table["campaign"]) == {"dr8"}


def test_total_column_may_be_named_total(tmp_path: Path):
    written = write_decals(tmp_path / "dr5", n=5, images=False)
    frame = pd.read_csv(written["path"])
    frame = frame.rename(columns=lambda c: c.replace("_total-votes", "_total"))
    frame.loc[0, "bar_total"] += 1
    frame.to_csv(written["path"], index=False)
    with pytest.raises(IngestionError, match="bar_total"):
        read_decals(written["path"], "dr5")


def test_a_dr12_file_read_as_dr5_fails_on_the_unknown_answer(tmp_path: Path):
    written = write_decals(tmp_path / "dr12", n=5, campaign="dr12", images=False)
    with pytest.raises(IngestionError, match="unknown vote column"):
        read_decals(written["path"], "dr5")


def test_image_path_column_is_used_and_checked(tmp_path: Path):
    written = write_decals(tmp_path / "dr5", n=4, images=False)
    with pytest.raises(IngestionError, match="do not exist"):
        read_decals(written["path"], "dr5", image_column="png_loc")
    table = read_decals(written["path"], "dr5", image_column="png_loc", check_images=False)
    assert table["image_path"][0].startswith("/Volumes/alpha/decals/png_native/dr5/")


@pytest.mark.shared_data
def test_real_panoptes_catalog_ingests_votes_only_with_every_count_preserved(shared_data: Path):
    path = shared_data / "gz_decals_votes" / "panoptes.csv"
    table = read_decals(path, "dr5", id_column=["id_str", "subject_id"], missing_questions="zero")
    raw = pd.read_csv(path, dtype={"id_str": str})
    assert len(table) == len(raw) == 4000
    assert table["id_str"].tolist() == raw["id_str"].tolist()
    assert table["image_path"].isna().all() and table["image_bytes"].isna().all()
    for answer in ("smooth", "featured-or-disk", "artifact"):
        expected = raw[f"smooth-or-featured_{answer}"].to_numpy()
        got = table[f"smooth-or-featured-dr5_{answer}"].to_numpy()
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, expected)  # floats 18.0 -> 18, exactly
    total = table.filter(like="smooth-or-featured-dr5_").sum(axis=1).to_numpy()
    np.testing.assert_array_equal(total, raw["smooth-or-featured_total-votes"].to_numpy())
    others = [c for c in load_campaign("dr5").answer_columns if "smooth-or-featured" not in c]
    assert (table[others] == 0).all().all()
    np.testing.assert_array_equal(table["ra"].to_numpy(), raw["ra"].to_numpy())
