"""The scaling grid: points, their ids and work folders, and the parameters that are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gz_evo.config import ConfigError
from gz_evo.training.sweep import ScalingConfig, plan_sweep
from tests.conftest import PROJECT_ROOT

SCHEMA = {"name": "s", "questions": []}
INDEX = {"image_size": 16, "splits": {"train": {"n_samples": 10}}}
AUGMENT = {"output_size": 16, "mean": [0.5] * 3, "std": [0.5] * 3}


def _params(env: str, name: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / f"conf/{env}/parameters_{name}.yml").read_text())[name]


def _plan(scaling: dict, seed: int = 0, augment: dict = AUGMENT, index: dict = INDEX) -> list:
    config = ScalingConfig.from_params(scaling)
    return plan_sweep(_params("test", "pretraining"), config, augment, SCHEMA, index, seed)


def test_the_base_parameters_make_a_grid() -> None:
    config = ScalingConfig.from_params(_params("base", "scaling"))
    assert len(config.fractions) * len(config.models) * len(config.replicates) >= 8
    assert max(config.fractions) == 1.0


def test_every_point_has_its_coordinates_seed_and_own_work_folder(tmp_path: Path) -> None:
    scaling = {**_params("test", "scaling"), "workdir": str(tmp_path)}
    points = _plan(scaling, seed=10)
    assert [(p.model, p.fraction, p.replicate) for p in points[:3]] == [
        ("narrow", 0.25, 0), ("narrow", 0.25, 1), ("narrow", 0.5, 0),
    ]  # fmt: skip
    assert len(points) == 2 * 3 * 2 and {p.seed for p in points} == {10, 11}
    assert len({p.workdir for p in points}) == len(points)
    assert all(p.workdir.parent == tmp_path for p in points)
    narrow = points[0]
    assert narrow.point_id.startswith("narrow_f0.25_r0_")
    assert narrow.config.data.train_fraction == 0.25
    assert narrow.config.model.timm_kwargs == {"channels": [8, 8, 8, 8]}
    assert narrow.config.trainer.max_epochs == 1 and narrow.augment["output_size"] == 16
    again = _plan(scaling, seed=10)
    assert [p.point_id for p in again] == [p.point_id for p in points]  # stable ids
    # a point added to the grid keeps the others' ids
    more = _plan({**scaling, "replicates": [0, 1, 2]}, seed=10)
    assert {p.point_id for p in points} < {p.point_id for p in more}


@pytest.mark.parametrize(
    "change",
    [
        {"augment": {"output_size": 8}},
        {"pretraining": {"optimizer": {"lr": 0.1}}},
        {
            "models": {
                "narrow": {"architecture": "test_resnet", "timm_kwargs": {"channels": [4] * 4}}
            }
        },
    ],
)
def test_a_changed_recipe_gives_new_point_ids(tmp_path: Path, change: dict) -> None:
    scaling = {**_params("test", "scaling"), "workdir": str(tmp_path)}
    before = {p.point_id for p in _plan(scaling) if p.model == "narrow"}
    after = {p.point_id for p in _plan({**scaling, **change}) if p.model == "narrow"}
    assert before and not before & after
    rebuilt = {p.point_id for p in _plan(scaling, index={**INDEX, "image_size": 32})}
    assert not rebuilt & before  # new shards: new results


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fractions": [0.5, 1.5]}, r"scaling.fractions must be numbers in \(0, 1\]"),
        ({"fractions": [0.5, 0.5]}, "scaling.fractions repeats"),
        ({"models": {}}, "scaling.models is empty"),
        ({"models": {"bad/name": {}}}, r"scaling.models.bad/name"),
        ({"replicates": [-1]}, "scaling.replicates must be non-negative"),
        ({"fits": {"bootstrap": 10}}, r"scaling.fits: missing key"),
    ],
)
def test_bad_grids_are_refused_naming_the_key(change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ScalingConfig.from_params({**_params("test", "scaling"), **change})
