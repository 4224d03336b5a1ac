"""Image-only catalogs: unlabelled images and the downstream-task catalog."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gz_evo.checks import META_COLUMNS, IngestionError
from gz_evo.readers import read_downstream_catalog, read_image_catalog
from tests.gz_fixtures import write_image_catalog


def test_unlabelled_catalog_is_canonical_without_votes(tmp_path: Path):
    written = write_image_catalog(tmp_path / "unlabelled", n=5)
    table = read_image_catalog(written["path"])
    assert tuple(table.columns) == META_COLUMNS
    assert set(table["campaign"]) == {"unlabelled"}
    assert table["image_path"][0] == f"{tmp_path}/unlabelled/images/unl-0000.png"


def test_every_file_read_is_a_progress_line(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="gz_evo.readers._common")
    written = write_image_catalog(tmp_path / "unlabelled", n=5)
    read_image_catalog(written["path"])
    lines = [r.getMessage() for r in caplog.records if r.name == "gz_evo.readers._common"]
    assert len(lines) == 1 and lines[0].startswith(f"read {written['path']}: 5 rows, ")


def test_downstream_catalog_keeps_its_labels(tmp_path: Path):
    written = write_image_catalog(tmp_path / "downstream", n=6, prefix="ds", labels=True)
    table = read_downstream_catalog(written["path"])
    assert list(table.columns) == ["id_str", "image_path", "ring", "tidal"]
    assert table["ring"].tolist() == written["frame"]["ring"].tolist()
    with pytest.raises(IngestionError, match="missing label column"):
        read_downstream_catalog(written["path"], label_columns=["bar"])
