"""A user's own campaign: counts CSV/parquet + its schema YAML in a campaign directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.checks import IngestionError
from gz_evo.readers import read_user
from tests.gz_fixtures import write_user


def test_suffixed_counts_and_relative_images(tmp_path: Path):
    written = write_user(tmp_path / "deep", tmp_path / "campaigns", n=8)
    table = read_user(written["path"], "fixture_deep", campaign_dirs=[written["campaign_dir"]])
    for column, values in written["votes"].items():
        np.testing.assert_array_equal(table[column].to_numpy(), values)
    assert table["image_path"][0] == f"{tmp_path}/deep/images/deep-0000.png"


def test_unsuffixed_counts_and_parquet_are_accepted(tmp_path: Path):
    written = write_user(tmp_path / "deep", tmp_path / "campaigns", n=5)
    frame = pd.read_csv(written["path"]).rename(columns=lambda c: c.replace("-fdeep", ""))
    parquet = tmp_path / "deep" / "votes.parquet"
    frame.to_parquet(parquet)
    table = read_user(parquet, "fixture_deep", campaign_dirs=[written["campaign_dir"]])
    np.testing.assert_array_equal(
        table["clumpy-fdeep_yes"].to_numpy(), written["votes"]["clumpy-fdeep_yes"]
    )


def test_unknown_question_with_the_campaign_suffix_is_an_error(tmp_path: Path):
    written = write_user(tmp_path / "deep", tmp_path / "campaigns", n=5)
    frame = pd.read_csv(written["path"])
    frame["spiral-fdeep_yes"] = 1
    frame.to_csv(written["path"], index=False)
    with pytest.raises(IngestionError, match="spiral-fdeep_yes"):
        read_user(written["path"], "fixture_deep", campaign_dirs=[written["campaign_dir"]])
