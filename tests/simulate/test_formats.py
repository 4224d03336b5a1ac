"""Published layouts (FORMATS.md): the columns readers meet in real downloads, and the images."""

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image

from gz_evo.schema import load_schema
from gz_evo.simulate import formats
from gz_evo.simulate.morphology import sample_morphology
from gz_evo.simulate.volunteers import simulate_votes
from tests.conftest import PROJECT_ROOT

CAMPAIGN_DIRS = [str(PROJECT_ROOT / "conf/base/campaigns")]
N = 20


def _campaign(campaign: str, id_style: str):
    rng = np.random.default_rng(0)
    truth = sample_morphology(N, rng)
    truth["ra"] = rng.uniform(0, 360, N)
    truth["dec"] = rng.uniform(-10, 30, N)
    if id_style == "iau":
        truth["id_str"] = formats.iau_names(truth["ra"].to_numpy(), truth["dec"].to_numpy())
    elif id_style == "objid":
        truth["id_str"] = [str(587722981741363294 + k) for k in range(N)]
    else:
        truth["id_str"] = [f"{campaign}-{k:04d}" for k in range(N)]
    schema = load_schema(campaign, campaign_dirs=CAMPAIGN_DIRS)
    votes = simulate_votes(truth, schema, rng)
    images = rng.integers(0, 255, (N, 16, 16, 3), dtype=np.uint8)
    return truth, schema, votes, images


def test_iau_names_and_sexagesimal_strings() -> None:
    names = formats.iau_names(np.array([200.500667, 0.1]), np.array([0.8672222222, -2.5]))
    assert names.tolist() == ["J132200.16+005202.0", "J000024.00-023000.0"]
    ra, dec = formats.sexagesimal_strings(np.array([1.046625]), np.array([2.156667]))
    assert ra == ["00:04:11.19"] and dec == ["+02:09:24.0"]


def test_decals_release_layout() -> None:
    truth, schema, votes, images = _campaign("dr5", "iau")
    files = formats.decals_release(votes, truth, images, schema, "dr5")
    table = files["gz_decals_volunteers_5.csv"]
    assert list(table.columns[:12]) == list(formats.DECALS_METADATA)
    # per question: total first, then count, fraction, debiased per answer; no suffix
    assert list(table.columns[12:22]) == [
        "smooth-or-featured_total-votes",
        "smooth-or-featured_smooth",
        "smooth-or-featured_smooth_fraction",
        "smooth-or-featured_smooth_debiased",
        "smooth-or-featured_featured-or-disk",
        "smooth-or-featured_featured-or-disk_fraction",
        "smooth-or-featured_featured-or-disk_debiased",
        "smooth-or-featured_artifact",
        "smooth-or-featured_artifact_fraction",
        "smooth-or-featured_artifact_debiased",
    ]
    assert len(table.columns) == 12 + 10 + 3 * 34
    assert "bar_strong" in table and "bar-dr5_strong" not in table
    np.testing.assert_array_equal(table["bar_weak"], votes["bar-dr5_weak"])
    name = table["iauname"].iloc[0]
    png = files[f"images/{name[:4]}/{name}.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), images[0])


def test_gz2_hart16_has_231_columns_and_a_filename_mapping() -> None:
    truth, schema, votes, images = _campaign("gz2", "objid")
    files = formats.gz2_hart16(votes, truth, images, schema, "gz2", np.random.default_rng(1))
    table = files["gz2_hart16.csv"]
    assert table.shape == (N, 231)
    assert list(table.columns[:9]) == list(formats.HART16_LEADING)
    assert list(table.columns[9:15]) == [
        f"t01_smooth_or_features_a01_smooth_{field}" for field in formats.HART16_FIELDS
    ]
    np.testing.assert_array_equal(
        table["t05_bulge_prominence_a11_just_noticeable_count"],
        votes["bulge-size-gz2_just-noticeable"],
    )
    odd = table[[c for c in table if c.startswith("t08_") and c.endswith("_count")]].sum(axis=1)
    np.testing.assert_array_equal(odd, table["t06_odd_a14_yes_count"])  # t08 follows t06 yes
    counts = table[[c for c in table if c.endswith("_count")]].sum(axis=1)
    np.testing.assert_array_equal(counts, table["total_votes"])
    mapping = files["gz2_filename_mapping.csv"]
    assert list(mapping.columns) == ["objid", "sample", "asset_id"]
    assert (mapping["objid"] == table["dr7objid"]).all()
    assert all(f"images/{a}.jpg" in files for a in mapping["asset_id"])


def test_galaxy_datasets_train_test_parquet() -> None:
    truth, schema, votes, images = _campaign("candels", "plain")
    files = formats.galaxy_datasets(
        votes, truth, images, schema, "candels", np.random.default_rng(1)
    )
    train = files["candels_ortho_train_catalog.parquet"]
    test = files["candels_ortho_test_catalog.parquet"]
    assert (len(train), len(test)) == (16, 4)
    assert list(train.columns[:4]) == ["id_str", "filename", "ra", "dec"]
    for column in schema.answer_columns:
        assert column in train and f"{column}_fraction" in train
    assert "smooth-or-featured-candels_total-votes" in train
    assert all(f"images/{name}" in files for name in pd.concat([train, test])["filename"])


def test_huggingface_parquet_embeds_decodable_images() -> None:
    truth, schema, votes, images = _campaign("dr8", "plain")
    files = formats.huggingface(votes, truth, images, schema, "dr8", np.random.default_rng(1))
    table = files["data/train-00000-of-00001.parquet"]
    assert isinstance(table, pa.Table)
    assert table.column_names[:5] == ["image", "id_str", "dataset_name", "ra", "dec"]
    assert table.column_names[5:8] == [
        "smooth-or-featured-dr8_smooth",
        "smooth-or-featured-dr8_smooth_fraction",
        "smooth-or-featured-dr8_total-votes",
    ]
    assert table.schema.field("image").type == pa.struct(
        [("bytes", pa.binary()), ("path", pa.string())]
    )
    assert table.schema.field("bar-dr8_strong").type == pa.int32()
    assert table.schema.field("bar-dr8_strong_fraction").type == pa.float32()
    assert b"huggingface" in table.schema.metadata
    first = table.column("image")[0].as_py()
    decoded = np.asarray(Image.open(io.BytesIO(first["bytes"])))
    assert decoded.shape == (16, 16, 3)
    assert len(table) + len(files["data/test-00000-of-00001.parquet"]) == N


def test_user_campaign_and_image_catalogs() -> None:
    truth, schema, votes, images = _campaign("demo_deep", "plain")
    files = formats.user_campaign(votes, truth, images, schema, "demo_deep")
    table = files["votes.csv"]
    assert list(table.columns) == ["id_str", "file_loc", *schema.answer_columns]
    assert "merging-deep_minor-disturbance" in table
    assert all(path in files for path in table["file_loc"])
    catalog = formats.image_catalog(truth, images, formats.downstream_labels(truth))
    assert list(catalog["catalog.csv"].columns) == ["id_str", "file_loc", "ring", "tidal"]
    assert set(catalog["catalog.csv"]["tidal"]) <= {"none", "shell", "stream", "plume"}


def test_unknown_image_format_is_refused() -> None:
    with pytest.raises(ValueError, match="tiff"):
        formats.encode_image(np.zeros((2, 2, 3), np.uint8), "tiff")
