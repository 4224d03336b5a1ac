"""Every validation error: it names the file, the column and the offending ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gz_evo.checks import (
    IngestionError,
    check_dependencies,
    match_vote_columns,
    validate_canonical,
)
from gz_evo.readers import read_decals, read_galaxy_datasets, read_user
from gz_evo.schema import load_campaign
from tests.gz_fixtures import write_decals, write_galaxy_datasets, write_user


@pytest.fixture
def decals(tmp_path: Path) -> dict:
    return write_decals(tmp_path / "dr5", n=20, images=False)


def _edit(path: Path, edit) -> None:
    frame = pd.read_csv(path, dtype={"iauname": str})
    edited = edit(frame)
    frame = frame if edited is None else edited
    frame.to_csv(path, index=False)


def _error(path: Path, **options) -> IngestionError:
    with pytest.raises(IngestionError) as caught:
        read_decals(path, "dr5", **options)
    return caught.value


def test_missing_vote_column(decals: dict):
    _edit(decals["path"], lambda f: f.drop(columns=["bar_weak"]))
    error = _error(decals["path"])
    assert error.column == "bar_weak" and str(decals["path"]) in str(error)
    assert "missing vote column" in str(error)


def test_missing_whole_question_is_an_error_unless_zero_filled(decals: dict):
    _edit(
        decals["path"],
        lambda f: f.drop(
            columns=[
                "merging_none",
                "merging_minor-disturbance",
                "merging_major-disturbance",
                "merging_merger",
            ],
        ),
    )
    assert "merging" in _error(decals["path"]).column
    table = read_decals(decals["path"], "dr5", missing_questions="zero")
    assert (table["merging-dr5_merger"] == 0).all()


def test_unknown_vote_column(decals: dict):
    _edit(decals["path"], lambda f: f.assign(**{"bar_maybe": 1}))
    error = _error(decals["path"])
    assert error.column == "bar_maybe" and "unknown vote column" in str(error)


def test_negative_count(decals: dict):
    def edit(frame):
        frame.loc[3, "merging_merger"] = -1
        frame.loc[3, "merging_total-votes"] -= frame.loc[3, "merging_merger"] + 1

    _edit(decals["path"], edit)
    error = _error(decals["path"])
    assert error.column == "merging_merger" and error.ids == [decals["ids"][3]]
    assert "negative" in str(error) and decals["ids"][3] in str(error)


def test_non_integer_count(decals: dict):
    _edit(decals["path"], lambda f: f.__setitem__("bar_no", f["bar_no"] + 0.5 * (f.index == 7)))
    error = _error(decals["path"])
    assert error.column == "bar_no" and error.ids == [decals["ids"][7]]
    assert "non-integer" in str(error)


def test_nan_count(decals: dict):
    def edit(frame):
        frame["bar_no"] = frame["bar_no"].astype(float)
        frame.loc[[2, 4], "bar_no"] = np.nan

    _edit(decals["path"], edit)
    error = _error(decals["path"])
    assert error.column == "bar_no" and error.ids == [decals["ids"][2], decals["ids"][4]]
    assert "NaN" in str(error)


def test_duplicate_ids(decals: dict):
    _edit(
        decals["path"],
        lambda f: f.__setitem__("iauname", f["iauname"].where(f.index != 5, f["iauname"][1])),
    )
    error = _error(decals["path"])
    assert error.column == "iauname" and error.ids == [decals["ids"][1]]
    assert "duplicate" in str(error)


def test_total_that_disagrees_with_the_answers(decals: dict):
    _edit(
        decals["path"],
        lambda f: f.__setitem__("bar_total-votes", f["bar_total-votes"] + (f.index == 9)),
    )
    error = _error(decals["path"])
    assert error.column == "bar_total-votes" and error.ids == [decals["ids"][9]]
    assert "total disagrees" in str(error)


def test_images_that_do_not_exist(tmp_path: Path):
    written = write_decals(tmp_path / "dr5", n=6)
    missing = written["ids"][2]
    (written["image_dir"] / missing[:4] / f"{missing}.png").unlink()
    error = _error(
        written["path"], image_dir=written["image_dir"], image_pattern="{iauname[:4]}/{iauname}.png"
    )
    assert error.column == "image_path" and error.ids == [missing]


def test_missing_catalog_file(tmp_path: Path):
    with pytest.raises(IngestionError, match="does not exist"):
        read_decals(tmp_path / "nope.csv", "dr5")


def test_float_counts_in_parquet_must_be_integral(tmp_path: Path):
    written = write_galaxy_datasets(tmp_path / "candels", n=6)
    frame = pd.read_parquet(written["paths"][1])
    frame.loc[frame.index[0], "bar-candels_yes"] += 0.25
    frame.to_parquet(written["paths"][1])
    with pytest.raises(IngestionError, match="non-integer") as caught:
        read_galaxy_datasets(written["paths"], "candels", image_dir=written["image_dir"])
    assert str(written["paths"][1]) in str(caught.value)


def test_an_answer_given_twice_suffixed_and_not(tmp_path: Path):
    written = write_user(tmp_path / "deep", tmp_path / "campaigns", n=4)
    frame = pd.read_csv(written["path"])
    frame["clumpy_yes"] = frame["clumpy-fdeep_yes"]
    frame.to_csv(written["path"], index=False)
    with pytest.raises(IngestionError, match="appears twice"):
        read_user(written["path"], "fixture_deep", campaign_dirs=[written["campaign_dir"]])


def _child_exceeds_parent(table: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    table = table.copy()
    parent = "disk-edge-on-dr5_no"
    table.loc[rows, "bar-dr5_strong"] = table.loc[rows, parent] + 1
    return table


def test_dependency_violations_within_tolerance_are_dropped_and_reported(decals: dict):
    table = _child_exceeds_parent(read_decals(decals["path"], "dr5"), [0, 11])
    kept, dropped = check_dependencies(table, load_campaign("dr5"), "dr5", 0.2, "votes.csv")
    assert len(kept) == 18 and set(kept["id_str"]).isdisjoint(dropped["id_str"])
    assert sorted(dropped["id_str"]) == sorted([decals["ids"][0], decals["ids"][11]])
    assert set(dropped["question"]) == {"bar-dr5"}
    assert (dropped["question_votes"] > dropped["parent_votes"]).all()


def test_dependency_violations_above_tolerance_are_an_error(decals: dict):
    table = _child_exceeds_parent(read_decals(decals["path"], "dr5"), [0, 1, 2])
    with pytest.raises(IngestionError, match="above the tolerance") as caught:
        check_dependencies(table, load_campaign("dr5"), "dr5", 0.1, "votes.csv")
    assert caught.value.column == "bar-dr5_*"
    assert caught.value.ids == list(decals["ids"][:3])


def test_consistent_table_drops_nothing(decals: dict):
    table = read_decals(decals["path"], "dr5")
    kept, dropped = check_dependencies(table, load_campaign("dr5"), "dr5", 0.0, "votes.csv")
    assert kept is table and dropped.empty


def test_canonical_schema_rejects_wrong_dtypes_and_columns(decals: dict):
    table = read_decals(decals["path"], "dr5")
    columns = load_campaign("dr5").answer_columns
    validate_canonical(table, columns, "ok")
    with pytest.raises(IngestionError, match="not a canonical vote table"):
        validate_canonical(table.astype({"bar-dr5_no": "float64"}), columns, "bad")
    with pytest.raises(IngestionError):
        validate_canonical(table.drop(columns=["bar-dr5_no"]), columns, "bad")


def test_suffixed_matching_ignores_other_campaigns_and_companions():
    schema = load_campaign("dr8")
    questions = {q.name: q for q in schema.questions}
    columns = [*schema.answer_columns, "bar-dr8_total-votes", "bar-dr8_no_fraction", "bar-dr5_no"]
    mapping, zero = match_vote_columns(columns, questions, "f", suffix="-dr8")
    assert set(mapping.values()) == set(schema.answer_columns) and zero == []
