"""conf/paper (`kedro run --env paper --pipelines real`) resolves, types and names real formats."""

from __future__ import annotations

import inspect
import math
import re
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from gz_evo.config import merged
from gz_evo.datasets.raw import RawCatalogDataset
from gz_evo.pipeline_registry import NOT_REAL
from gz_evo.readers import READERS
from gz_evo.settings import CONFIG_LOADER_ARGS
from gz_evo.sources import CAMPAIGN_SOURCES, DEMO_FOLDERS, raw_entry
from gz_evo.training.augment import GalaxyAugment
from gz_evo.training.config import PretrainingConfig
from gz_evo.training.downstream import DownstreamConfig
from gz_evo.training.finetune import finetune_config
from gz_evo.training.run import check_launch
from tests.conftest import PROJECT_ROOT

#: what the file names of each published layout look like (../shared/FORMATS.md)
LAYOUTS = {
    "huggingface": r"/data/\*\.parquet$",  # data/{train,test}-000NN-of-000MM.parquet
    "galaxy_datasets": r"/[a-z0-9_]+_\*_catalog\.parquet$",  # <name>_{train,test}_catalog.parquet
    "decals": r"/gz_decals_volunteers_[0-9_and]+\.(csv|parquet)$",
    "gz2_hart": r"/gz2_hart16\.csv(\.gz)?$",
}
PAPER_ARCHITECTURES = ("convnext_nano", "maxvit_tiny_rw_224", "efficientnet_b0")


@pytest.fixture(scope="module")
def paper(tmp_path_factory) -> dict:
    data = tmp_path_factory.mktemp("gz_evo_data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GZ_EVO_DATA", str(data))
        loader = OmegaConfigLoader(
            conf_source=str(PROJECT_ROOT / "conf"), env="paper", **CONFIG_LOADER_ARGS
        )
        return {"params": loader["parameters"], "catalog": loader["catalog"], "data": data}


def test_pretraining_config_builds_for_gpus(paper) -> None:
    params = paper["params"]
    config = PretrainingConfig.from_params(params["pretraining"])
    assert config.trainer.accelerator == "gpu" and config.trainer.precision == "bf16-mixed"
    assert config.model.architecture in PAPER_ARCHITECTURES and config.model.channels_last
    check_launch(config.trainer)  # ddp_spawn on every GPU of the node: no launcher needed
    for name, changes in params["pretraining_variants"].items():
        PretrainingConfig.from_params(params["pretraining"], changes).objective_config()
        assert name == "hybrid"
    downstream = DownstreamConfig.from_params(params["downstream"])
    assert [task.name for task in downstream.task_list()] == ["rings"]
    finetune_config(params["pretraining"], merged(downstream.finetune.changes, {}))
    assert params["gz_evo"]["schema"] == [c for c in CAMPAIGN_SOURCES if c != "demo_deep"]


def test_training_views_are_cut_without_upsampling(paper) -> None:
    images = paper["params"]["images"]
    augment = GalaxyAugment.from_params(images["augment"])
    assert augment.output_size == 224
    # the smallest random crop (area crop_scale[0]) of a stored image still covers >= 224 px
    assert images["image_size"] * math.sqrt(augment.crop_scale[0]) >= augment.output_size


def test_every_parameter_the_real_pipelines_read_is_present(paper) -> None:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(PROJECT_ROOT)
    params = {"parameters": paper["params"], **paper["params"]}
    real: Pipeline = pipelines["real"]
    assert not {n.name for n in real.nodes} & {n.name for n in pipelines["demo"].nodes}
    assert set(NOT_REAL) == {"demo", "finetune"}
    for name in sorted(real.inputs()):
        if not name.startswith("params:"):
            continue
        value = params
        for part in name.removeprefix("params:").split("."):
            assert part in value, f"conf/paper lacks {name}"
            value = value[part]


def test_raw_sources_are_real_layouts_with_readers(paper) -> None:
    catalog, params = paper["catalog"], paper["params"]["ingestion"]
    built = DataCatalog.from_config(catalog)
    for source in DEMO_FOLDERS:
        entry = catalog[raw_entry(source)]
        assert entry["type"] == "gz_evo.datasets.raw.RawCatalogDataset", source
        assert isinstance(built.get(raw_entry(source)), RawCatalogDataset)
        if source in ("unlabelled", "downstream"):
            continue
        assert Path(entry["filepath"]).is_relative_to(paper["data"]), entry["filepath"]
        settings = params["campaigns"][source]
        if not settings.get("enabled", True):
            continue
        reader = READERS[settings["reader"]]
        assert re.search(LAYOUTS[settings["reader"]], entry["filepath"]), entry["filepath"]
        inspect.signature(reader).bind([entry["filepath"]], source, **settings["options"])
    enabled = [c for c in CAMPAIGN_SOURCES if params["campaigns"][c].get("enabled", True)]
    readers = {params["campaigns"][c]["reader"] for c in enabled}
    assert {"huggingface", "galaxy_datasets"} <= readers


@pytest.mark.slow
@pytest.mark.parametrize("architecture", PAPER_ARCHITECTURES)
def test_paper_encoders_take_224_pixel_views(paper, architecture) -> None:
    import torch

    from gz_evo.models.encoder import create_encoder

    model = PretrainingConfig.from_params(
        paper["params"]["pretraining"], {"model": {"architecture": architecture}}
    ).model
    encoder = create_encoder(
        model.architecture, drop_path_rate=model.drop_path_rate, **model.timm_kwargs
    ).eval()
    size = paper["params"]["images"]["augment"]["output_size"]
    with torch.no_grad():
        features = encoder(torch.zeros(2, 3, size, size))
    assert features.shape == (2, encoder.num_features)
