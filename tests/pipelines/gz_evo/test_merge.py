"""The GZ-Evo merge: zeros for unasked questions, unlabelled routing, stable splits, summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.merge import merge_vote_tables, split_of
from gz_evo.pipelines.gz_evo.nodes import build_merged_schema, merge_catalogs, summarise_catalog
from gz_evo.readers import read_decals, read_galaxy_datasets, read_image_catalog
from gz_evo.schema import Schema, load_schema
from tests.gz_fixtures import write_decals, write_galaxy_datasets, write_image_catalog

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}


@pytest.fixture
def tables(tmp_path: Path) -> dict:
    dr5 = read_decals(write_decals(tmp_path / "dr5", n=20, images=False)["path"], "dr5")
    dr5.loc[[3, 7], load_schema("dr5").answer_columns] = 0  # two galaxies nobody voted on
    candels_files = write_galaxy_datasets(tmp_path / "candels", n=10)
    candels = read_galaxy_datasets(candels_files["paths"], "candels", check_images=False)
    unlabelled = read_image_catalog(write_image_catalog(tmp_path / "unl", n=4)["path"])
    return {"dr5": dr5, "candels": candels, "unlabelled": unlabelled}


def test_merge_fills_zeros_for_unasked_questions_in_schema_order(tables: dict):
    schema = load_schema(["dr5", "gz2", "candels"])
    catalog, _ = merge_vote_tables(
        [tables["dr5"], tables["candels"]], schema, tables["unlabelled"], FRACTIONS, 42
    )
    assert list(catalog.columns[8:]) == schema.answer_columns
    assert all(catalog[c].dtype == np.int32 for c in schema.answer_columns)
    dr5_rows = catalog["campaign"] == "dr5"
    assert (catalog.loc[dr5_rows, schema.campaign_answer_columns("candels")] == 0).all().all()
    assert (catalog[schema.campaign_answer_columns("gz2")] == 0).all().all()  # no gz2 table
    candels = tables["candels"].set_index("id_str")
    merged = catalog[~dr5_rows].set_index("id_str")
    for column in schema.campaign_answer_columns("candels"):
        np.testing.assert_array_equal(merged[column], candels.loc[merged.index, column])
    assert catalog["key"].iloc[0] == f"dr5/{tables['dr5']['id_str'][0]}"


def test_galaxies_without_votes_go_to_the_unlabelled_table(tables: dict):
    schema = load_schema(["dr5", "candels"])
    catalog, unlabelled = merge_vote_tables(
        [tables["dr5"], tables["candels"]], schema, tables["unlabelled"], FRACTIONS, 42
    )
    no_votes = set(tables["dr5"]["id_str"][[3, 7]])
    assert no_votes.isdisjoint(catalog["id_str"])
    assert set(unlabelled["id_str"]) == no_votes | set(tables["unlabelled"]["id_str"])
    assert (unlabelled["split"] == "unlabelled").all()
    assert list(unlabelled.columns) == list(catalog.columns[:8])
    assert len(catalog) == 18 + 10


def test_campaign_outside_the_schema_is_left_out(tables: dict):
    catalog, _ = merge_vote_tables(
        [tables["dr5"], tables["candels"]], load_schema(["dr5"]), None, FRACTIONS, 42
    )
    assert set(catalog["campaign"]) == {"dr5"}


def test_splits_are_stable_when_a_catalog_grows_and_shared_across_campaigns():
    ids = pd.Series([f"J{i:06d}" for i in range(5000)])
    before = split_of(ids[:3000], FRACTIONS, seed=42)
    after = split_of(ids, FRACTIONS, seed=42)
    pd.testing.assert_series_equal(before, after[:3000])
    shares = after.value_counts(normalize=True)
    assert abs(shares["train"] - 0.8) < 0.03 and abs(shares["test"] - 0.1) < 0.02
    reordered = split_of(ids[::-1].reset_index(drop=True), FRACTIONS, seed=42)
    assert (reordered.to_numpy()[::-1] == after.to_numpy()).all()
    assert (split_of(ids, FRACTIONS, seed=7) != after).any()  # the seed salts the hash


def test_same_galaxy_in_two_campaigns_shares_its_split(tables: dict):
    dr8 = tables["dr5"].copy()
    dr8["campaign"] = "dr8"
    dr8.columns = [c.replace("-dr5_", "-dr8_") for c in dr8.columns]
    catalog, _ = merge_vote_tables(
        [tables["dr5"], dr8], load_schema(["dr5", "dr8"]), None, FRACTIONS, 42
    )
    per_id = catalog.groupby("id_str")["split"].nunique()
    assert (per_id == 1).all() and catalog["key"].is_unique


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="sum to 1"):
        split_of(pd.Series(["a"]), {"train": 0.8, "val": 0.3, "test": 0.1}, seed=0)


def test_summary_counts_galaxies_votes_questions_answers_and_unlabelled(tables: dict):
    schema_dict = build_merged_schema(["dr5", "candels"], [])
    catalog, unlabelled = merge_catalogs(
        schema_dict, FRACTIONS, 42, tables["unlabelled"], tables["dr5"], tables["candels"]
    )
    summary, mlflow_metrics = summarise_catalog(schema_dict, catalog, unlabelled)
    schema = Schema.from_dict(schema_dict)
    dr5 = summary["campaigns"]["dr5"]
    assert dr5["galaxies"] == 18 and dr5["unlabelled_images"] == 2
    assert dr5["questions"] == 10 and dr5["answers"] == 34
    assert dr5["votes"] == int(
        tables["dr5"][schema.campaign_answer_columns("dr5")].to_numpy().sum()
    )
    assert summary["campaigns"]["unlabelled"]["unlabelled_images"] == 4
    total = summary["total"]
    assert total["galaxies"] == 28 and total["unlabelled_images"] == 6
    assert total["votes"] == dr5["votes"] + summary["campaigns"]["candels"]["votes"]
    assert total["answers"] == schema.n_answers
    assert sum(summary["splits"].values()) == 28
    json.dumps(summary)  # plain JSON for DVC
    assert mlflow_metrics["summary.total.galaxies"] == {"value": 28.0, "step": 0}
