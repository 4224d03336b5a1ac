"""The demo pipeline on tiny parameters: files at the contract's paths, seeded, atomic folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from gz_evo.datasets import AtomicJSONDataset, AtomicParquetDataset
from gz_evo.datasets.demo_universe import DemoFolderDataset
from gz_evo.pipelines.demo import create_pipeline
from gz_evo.pipelines.demo.nodes import package_folders, sample_truth
from gz_evo.sources import DEMO_FOLDERS
from tests.conftest import PROJECT_ROOT

TINY = yaml.safe_load((PROJECT_ROOT / "conf/test/parameters_demo.yml").read_text())["demo"]
CAMPAIGN_DIRS = [str(PROJECT_ROOT / "conf/base/campaigns")]


def _run(root: Path, seed: int = 42) -> dict[str, str]:
    """Run the pipeline into ``root``; return {relative path: sha256} of every file written."""
    datasets = {
        "demo_truth": AtomicParquetDataset(str(root / "demo/truth.parquet")),
        "demo_images": MemoryDataset(copy_mode="assign"),
        "demo_summary": AtomicJSONDataset(str(root / "demo_summary.json")),
        "demo_mlflow_metrics": MemoryDataset(),
        **{f"raw_{f}": DemoFolderDataset(str(root / "demo" / f)) for f in DEMO_FOLDERS},
    }
    catalog = DataCatalog(datasets=datasets)
    catalog["params:demo"] = TINY
    catalog["params:seed"] = seed
    catalog["params:campaign_dirs"] = CAMPAIGN_DIRS
    SequentialRunner().run(create_pipeline(), catalog)
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("demo_a")
    return root, _run(root)


def test_every_campaign_lands_at_the_contract_paths(first_run) -> None:
    root, files = first_run
    demo = root / "demo"
    dr5 = pd.read_csv(demo / "dr5/gz_decals_volunteers_5.csv")
    assert len(dr5) == TINY["campaigns"]["dr5"]["n"]
    for name in dr5["iauname"]:
        assert (demo / f"dr5/images/{name[:4]}/{name}.png").is_file()
    hart = pd.read_csv(demo / "gz2/gz2_hart16.csv")
    assert hart.shape[1] == 231
    mapping = pd.read_csv(demo / "gz2/gz2_filename_mapping.csv")
    assert all((demo / f"gz2/images/{a}.jpg").is_file() for a in mapping["asset_id"])
    candels = pd.concat(
        pd.read_parquet(demo / f"candels/candels_ortho_{s}_catalog.parquet")
        for s in ("train", "test")
    )
    assert all((demo / f"candels/images/{f}").is_file() for f in candels["filename"])
    dr8 = pd.concat(
        pd.read_parquet(demo / f"dr8/data/{s}-00000-of-00001.parquet") for s in ("train", "test")
    )
    assert isinstance(dr8["image"].iloc[0]["bytes"], bytes)
    for folder, table in (
        ("demo_deep", "votes.csv"),
        ("unlabelled", "catalog.csv"),
        ("downstream", "catalog.csv"),
    ):
        frame = pd.read_csv(demo / folder / table)
        assert all((demo / folder / loc).is_file() for loc in frame["file_loc"])
    truth = pd.read_parquet(demo / "truth.parquet")
    ids = pd.concat(
        [dr5["iauname"], hart["dr7objid"].astype(str), candels["id_str"], dr8["id_str"]]
    )
    assert set(ids) <= set(truth["id_str"]) and truth["id_str"].is_unique
    assert len(truth) == sum(c["n"] for c in TINY["campaigns"].values()) + 8 + 10
    assert not any(".tmp" in path or ".old" in path for path in files)  # no leftovers


def test_same_seed_gives_byte_identical_files(first_run, tmp_path: Path) -> None:
    _, files = first_run
    assert _run(tmp_path / "again") == files
    other = _run(tmp_path / "other", seed=7)
    assert other.keys() != files.keys() or other != files


def test_folders_must_match_the_campaign_parameters() -> None:
    with pytest.raises(ValueError, match="DEMO_FOLDERS"):
        package_folders(
            ["dr5"],
            pd.DataFrame(),
            [],
            {},
            {"campaigns": {}, "unlabelled": {}, "downstream": {}},
            [],
            0,
        )


def test_unknown_campaign_format_is_refused_by_the_first_node() -> None:
    params = {**TINY, "campaigns": {**TINY["campaigns"]}}
    params["campaigns"]["dr5"] = {**params["campaigns"]["dr5"], "format": "fits_cube"}
    with pytest.raises(
        ValueError, match=r"demo campaign 'dr5': unknown format 'fits_cube'; formats: \["
    ):
        sample_truth(params, 42)
