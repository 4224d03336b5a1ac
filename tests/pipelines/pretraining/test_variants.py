"""The encoders the default run trains agree across code, parameters, catalog and dvc.yaml."""

from __future__ import annotations

import yaml

from gz_evo.pipelines.pretraining import create_pipeline
from gz_evo.pipelines.pretraining.pipeline import MAIN, OUTPUTS, VARIANTS
from gz_evo.training.config import PretrainingConfig
from tests.conftest import PROJECT_ROOT


def _yaml(path: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / path).read_text())


PARAMETERS = _yaml("conf/base/parameters_pretraining.yml")
DVC = _yaml("dvc.yaml")["stages"]


def test_every_variant_has_parameters_of_its_own_and_a_work_folder_of_its_own() -> None:
    variants = PARAMETERS["pretraining_variants"]
    assert tuple(variants) == VARIANTS
    workdirs = {PARAMETERS["pretraining"]["workdir"]}
    for name, changes in variants.items():
        config = PretrainingConfig.from_params(PARAMETERS["pretraining"], changes)
        assert config.workdir not in workdirs, f"{name} would share a work folder"
        workdirs.add(config.workdir)
    assert PretrainingConfig.from_params(PARAMETERS["pretraining"], variants["hybrid"]).method == (
        "hybrid"
    )


def test_every_encoder_runs_in_its_own_namespace() -> None:
    pipeline = create_pipeline()
    for namespace in (MAIN, *VARIANTS):
        nodes = pipeline.only_nodes_with_namespaces([namespace]).nodes
        assert {node.name.split(".", 1)[1] for node in nodes} == {
            "fit_model",
            "evaluate_model",
            "export_encoder",
        }
    outputs = pipeline.all_outputs()
    assert set(OUTPUTS) <= outputs
    assert {f"{v}.{o}" for v in VARIANTS for o in OUTPUTS} <= outputs


def test_every_variant_is_a_dvc_stage_that_cannot_go_stale() -> None:
    main = DVC["pretraining"]
    assert main["cmd"].endswith(f"--namespaces {MAIN}")
    pretraining_keys = set(PARAMETERS["pretraining"])
    for name, changes in PARAMETERS["pretraining_variants"].items():
        stage = DVC[f"pretraining_{name}"]
        assert stage["cmd"].endswith(f"--namespaces {name}")
        assert stage["deps"] == main["deps"]
        params = next(p for p in stage["params"] if "conf/base/parameters_pretraining.yml" in p)
        listed = set(params["conf/base/parameters_pretraining.yml"])
        replaced = {key for key, value in changes.items() if not isinstance(value, dict)}
        expected = {f"pretraining.{key}" for key in pretraining_keys - replaced}
        assert listed == expected | {f"pretraining_variants.{name}"}
        outs = {next(iter(o)) if isinstance(o, dict) else o for o in stage["outs"]}
        assert f"data/06_models/{name}_encoder" in outs
        metrics = [next(iter(m)) if isinstance(m, dict) else m for m in stage["metrics"]]
        assert metrics == [f"data/08_reporting/{name}_pretraining_metrics.json"]
