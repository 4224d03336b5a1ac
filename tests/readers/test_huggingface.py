"""The Hugging Face layout: parquet shards with the image embedded as a {bytes, path} struct."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gz_evo.readers import read_huggingface
from gz_evo.schema import load_campaign
from tests.gz_fixtures import write_huggingface


def test_shards_are_read_with_image_bytes_and_int32_counts(tmp_path: Path):
    written = write_huggingface(tmp_path / "dr8", n=10)
    table = read_huggingface(written["paths"], "dr8")
    assert len(table) == 10
    order = [list(table["id_str"]).index(i) for i in written["ids"]]
    for column in load_campaign("dr8").answer_columns:
        np.testing.assert_array_equal(table[column].to_numpy()[order], written["votes"][column])
    assert table["image_bytes"].iloc[order[3]] == written["blobs"][3]
    assert table["image_path"].isna().all()


def test_dataset_name_filter_and_votes_only(tmp_path: Path):
    written = write_huggingface(tmp_path / "dr8", n=6)
    assert len(read_huggingface(written["paths"], "dr8", dataset_name="gz2")) == 0
    table = read_huggingface(written["paths"], "dr8", image_column=None)
    assert table["image_bytes"].isna().all() and len(table) == 6
