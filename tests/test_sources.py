"""gz_evo.sources is the one campaign list: every config file that repeats it must agree with it."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import yaml

from gz_evo.simulate import universe
from gz_evo.sources import (
    CAMPAIGN_SOURCES,
    DEMO_FOLDERS,
    IMAGE_CATALOGS,
    raw_entry,
    votes_entry,
)
from tests.conftest import PROJECT_ROOT

VOTES_PATH = "data/02_intermediate/{campaign}_votes.parquet"


def _yaml(relative: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / relative).read_text())


def _stage(name: str) -> dict:
    return _yaml("dvc.yaml")["stages"][name]


def _votes_paths(paths: list) -> list[str]:
    """The campaign vote tables among a stage's deps or outs (plain strings or one-key dicts)."""
    names = [p if isinstance(p, str) else next(iter(p)) for p in paths]
    return [
        n for n in names if n.startswith("data/02_intermediate/") and n.endswith("_votes.parquet")
    ]


def test_the_list_is_consistent() -> None:
    assert len(set(CAMPAIGN_SOURCES)) == len(CAMPAIGN_SOURCES)
    assert DEMO_FOLDERS == CAMPAIGN_SOURCES + IMAGE_CATALOGS
    assert not set(CAMPAIGN_SOURCES) & set(IMAGE_CATALOGS)
    assert IMAGE_CATALOGS == (universe.UNLABELLED, universe.DOWNSTREAM)
    assert raw_entry("dr5") == "raw_dr5" and votes_entry("dr5") == "dr5_votes"


@pytest.mark.parametrize(
    "relative", ["conf/base/parameters_demo.yml", "conf/test/parameters_demo.yml"]
)
def test_demo_parameters_render_every_campaign(relative: str) -> None:
    demo = _yaml(relative)["demo"]
    assert list(demo["campaigns"]) == list(CAMPAIGN_SOURCES)
    assert all(name in demo for name in IMAGE_CATALOGS)


def test_ingestion_parameters_read_every_campaign() -> None:
    ingestion = _yaml("conf/base/parameters_ingestion.yml")["ingestion"]
    assert list(ingestion["campaigns"]) == list(CAMPAIGN_SOURCES)
    assert all(name in ingestion for name in IMAGE_CATALOGS)


def test_default_schema_merges_every_campaign() -> None:
    assert _yaml("conf/base/parameters_gz_evo.yml")["gz_evo"]["schema"] == list(CAMPAIGN_SOURCES)


def test_catalog_has_a_raw_entry_per_folder_and_a_votes_entry_per_campaign() -> None:
    catalog = _yaml("conf/base/catalog.yml")
    raw = [name for name in catalog if name.startswith("raw_")]
    assert raw == [raw_entry(folder) for folder in DEMO_FOLDERS]
    for folder in DEMO_FOLDERS:
        assert catalog[raw_entry(folder)]["path"] == f"data/01_raw/demo/{folder}"
    pattern = catalog[votes_entry("{campaign}")]
    assert pattern["filepath"] == VOTES_PATH


def test_dvc_stages_list_every_vote_table() -> None:
    expected = [VOTES_PATH.format(campaign=campaign) for campaign in CAMPAIGN_SOURCES]
    assert _votes_paths(_stage("ingestion")["outs"]) == expected
    assert _votes_paths(_stage("gz_evo")["deps"]) == expected


def test_dvc_stages_depend_on_the_list() -> None:
    for stage in ("demo", "ingestion", "gz_evo"):
        assert "src/gz_evo/sources.py" in _stage(stage)["deps"], stage


def test_sources_is_ground_floor() -> None:
    tree = ast.parse((PROJECT_ROOT / "src/gz_evo/sources.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__"}
    code = "import sys, gz_evo.sources; print([m for m in ('kedro', 'torch') if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_no_pipeline_imports_another_pipeline() -> None:
    pipelines = PROJECT_ROOT / "src/gz_evo/pipelines"
    for path in pipelines.glob("*/*.py"):
        own = f"gz_evo.pipelines.{path.parent.name}"
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                if name.startswith("gz_evo.pipelines."):
                    assert name == own or name.startswith(own + "."), f"{path}: imports {name}"
