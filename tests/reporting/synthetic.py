"""Small synthetic outputs of every stage, written where a catalog of OptionalDatasets reads
them: two campaigns, a few test galaxies with real PNG images, two encoders, a sweep, two
downstream tasks. Distinctive numbers (``TEST_LOSS``, ``VOTES``, ...) let tests find them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from PIL import Image

from gz_evo.datasets import AtomicJSONDataset, AtomicParquetDataset, AtomicTextDataset
from gz_evo.datasets.figures import FiguresDataset
from gz_evo.datasets.optional import OptionalDataset
from gz_evo.schema import campaign_from_dict, merge_schemas

SCHEMA = merge_schemas(
    [
        campaign_from_dict(
            {
                "name": "alpha",
                "suffix": "-alpha",
                "questions": [
                    {"name": "smooth-or-featured", "answers": ["smooth", "featured"]},
                    {
                        "name": "bar",
                        "answers": ["strong", "weak", "no"],
                        "depends_on": "smooth-or-featured_featured",
                    },
                ],
            }
        ),
        campaign_from_dict(
            {
                "name": "beta",
                "suffix": "-beta",
                "questions": [{"name": "smooth-or-featured", "answers": ["smooth", "featured"]}],
            }
        ),
    ],
    name="alpha+beta",
)

TEST_LOSS = 17.2468  # main encoder's test loss: shown as 17.25
VOTES = 98765  # total votes in the GZ-Evo summary: shown as 98,765
PARAMETERS = {
    "pretraining": {"method": "supervised", "evaluation": {"interval": 0.9, "min_votes": 5}},
    "reporting": {
        "title": "Synthetic report",
        "examples_per_campaign": 2,
        "example_questions": 2,
        "example_image_size": 32,
        "calibration_bins": 5,
        "figure_dpi": 40,
    },
    "images.image_root": ".",
    "seed": 0,
    "downstream.tasks": {
        "ring": {"kind": "binary", "requires": None},
        "real_rings": {"kind": "binary", "requires": "../shared/data/rings"},
    },
}

#: catalog name -> file under the data folder
FILES = {
    "gz_evo_summary": "gz_evo_summary.json",
    "reporting_schema": "schema.json",
    "reporting_test_votes": "catalog.parquet",
    "pretraining_test_predictions": "predictions.parquet",
    "pretraining_metrics": "metrics.json",
    "pretraining_history": "history.parquet",
    "hybrid.pretraining_metrics": "hybrid_metrics.json",
    "hybrid.pretraining_history": "hybrid_history.parquet",
    "scaling_points": "scaling_points.parquet",
    "scaling_fits": "scaling_fits.json",
    "scaling_figures": "scaling_figures",
    "downstream_summary": "downstream_summary.parquet",
    "downstream_error_reductions": "downstream_error_reductions.parquet",
}


def _dataset(name: str, path: Path):
    if name == "scaling_figures":
        return {"type": "gz_evo.datasets.figures.FiguresDataset", "path": str(path)}
    kind = "AtomicParquetDataset" if path.suffix == ".parquet" else "AtomicJSONDataset"
    config = {"type": f"gz_evo.datasets.{kind}", "filepath": str(path)}
    if name == "reporting_test_votes":
        config["load_args"] = {"filters": [["split", "==", "test"]]}
    return config


def catalog(data: Path, report: Path) -> DataCatalog:
    """Every input of the reporting pipeline: OptionalDatasets over ``data``, parameters."""
    datasets = {
        name: OptionalDataset(_dataset(name, data / file), read_only=name.startswith("reporting"))
        for name, file in FILES.items()
    }
    datasets |= {f"params:{k}": MemoryDataset(v) for k, v in PARAMETERS.items()}
    datasets["report_html"] = AtomicTextDataset(str(report))
    return DataCatalog(datasets)


def _predictions(keys: list[str], rng: np.random.Generator) -> pd.DataFrame:
    columns: dict[str, object] = {"key": keys}
    for question in SCHEMA.questions:
        fractions = rng.dirichlet(np.ones(len(question.answers)), size=len(keys))
        for position, column in enumerate(question.answer_columns):
            columns[f"{column}_fraction"] = fractions[:, position]
            columns[f"{column}_lower"] = fractions[:, position] * 0.5
            columns[f"{column}_upper"] = np.minimum(fractions[:, position] * 1.5, 1.0)
    return pd.DataFrame(columns)


def _votes(data: Path, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for campaign in SCHEMA.campaigns:
        for index in range(6):
            name = f"{campaign}-{index}"
            image = (rng.random((20, 20, 3)) * 255).astype(np.uint8)
            Image.fromarray(image).save(data / f"{name}.png")
            row = {
                "key": f"{campaign}/{name}",
                "id_str": name,
                "campaign": campaign,
                "split": "test" if index < 5 else "train",
                "image_path": str(data / f"{name}.png"),
                "image_bytes": None,
            }
            for question in SCHEMA.questions:
                asked = question.campaign == campaign
                counts = rng.multinomial(10, np.ones(len(question.answers)) / len(question.answers))
                for column, count in zip(question.answer_columns, counts, strict=True):
                    row[column] = int(count) if asked else 0
            rows.append(row)
    return pd.DataFrame(rows)


def _metrics(test_loss: float) -> dict:
    return {
        "val_loss": test_loss + 1.0,
        "val_uniform_loss": test_loss + 5.0,
        "test_loss": test_loss,
        "test_uniform_loss": test_loss + 4.0,
        "test_mae": 0.2,
        "test_coverage": 0.88,
        "test_loss_per_campaign": {"alpha": test_loss + 2.0, "beta": test_loss - 3.0},
        "test_loss_per_question": {q: 1.5 for q in SCHEMA.question_names},
        "test_mae_per_question": {q: 0.2 for q in SCHEMA.question_names},
        "test_coverage_per_question": {q: 0.9 for q in SCHEMA.question_names},
        "best_global_step": 30,
        "epochs": 3,
    }


def _history(scale: float) -> pd.DataFrame:
    epochs = np.arange(3)
    return pd.DataFrame(
        {
            "epoch": epochs,
            "step": (epochs + 1) * 10 - 1,
            "knn/ring": [0.5, 0.6, 0.7],
            "train/loss": scale * (3 - epochs),
            "val/loss": scale * (3.5 - epochs),
            "val/loss_campaign/alpha": scale * (4 - epochs),
            "val/loss_campaign/beta": scale * (3 - epochs),
        }
    )


def _downstream() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, reductions = [], []
    for encoder, error in (("gz_evo_supervised", 0.2), ("random_init", 0.4)):
        for budget, factor in ((10, 1.5), (40, 1.0)):
            rows.append(
                {
                    "task": "ring",
                    "encoder": encoder,
                    "protocol": "linear_probe",
                    "budget": budget,
                    "n": 3,
                    "all_labels_mean": float(budget == 40),
                    "error_mean": error * factor,
                    "error_std": 0.01,
                    "roc_auc_mean": 1 - error * factor,
                    "roc_auc_std": 0.02,
                }
            )
    for budget in (10, 40):
        reductions.append(
            {
                "task": "ring",
                "protocol": "linear_probe",
                "budget": budget,
                "encoder": "gz_evo_supervised",
                "baseline": "random_init",
                "relative_error_reduction": 0.5,
            }
        )
    return pd.DataFrame(rows), pd.DataFrame(reductions)


def _fit(target, against, model, alpha, interval, reason=None) -> dict:
    """One record of the scaling pipeline's fits (gz_evo.evaluation.scaling.sweep_fits)."""
    return {
        "target": target,
        "against": against,
        "model": model,
        "fraction": None if against == "train_images" else 1.0,
        "form": "power",
        "identifiable": alpha is not None,
        "reason": reason,
        "a": None if alpha is None else 10.0,
        "alpha": alpha,
        "c": None,
        "alpha_interval": None if interval is None else list(interval),
        "n_points": 4,
        "n_x": 2,
    }


def write_outputs(data: Path, seed: int = 0) -> None:
    """Write every stage's outputs under ``data`` (see ``FILES``)."""
    from gz_evo.plotting import new_figure

    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    summary = {
        "schema": SCHEMA.name,
        "campaigns": {
            "alpha": {"galaxies": 6, "votes": VOTES - 4321, "questions": 2, "answers": 5},
            "beta": {"galaxies": 6, "votes": 4321, "questions": 1, "answers": 2},
            "unlabelled": {"galaxies": 0, "votes": 0, "questions": 0, "answers": 0},
        },
        "total": {
            "galaxies": 12,
            "unique_galaxies": 12,
            "votes": VOTES,
            "questions": 3,
            "answers": 7,
            "unlabelled_images": 3,
        },
        "splits": {"train": 2, "val": 0, "test": 10},
    }
    summary["campaigns"]["unlabelled"]["unlabelled_images"] = 3
    votes = _votes(data, rng)
    test_keys = votes.loc[votes["split"] == "test", "key"].tolist()
    downstream_summary, reductions = _downstream()
    points = pd.DataFrame(
        {
            "model": ["small"] * 4 + ["large"] * 4,
            "parameters": [1000] * 4 + [4000] * 4,
            "fraction": [0.5, 0.5, 1.0, 1.0] * 2,
            "train_images": [50, 50, 100, 100] * 2,
            "seed": [0, 1] * 4,
            "test_loss": [5.0, 5.2, 4.0, 4.1, 4.5, 4.6, 3.0, 3.2],
        }
    )
    fits = {
        "interval": 0.9,
        "fits": [
            _fit("test_loss", "train_images", "small", 0.321, (0.25, 0.4)),
            _fit("test_loss", "train_images", "large", None, None, "two points for two"),
            _fit("test_loss", "parameters", None, 0.123, (0.1, 0.15)),
            _fit("smooth-or-featured-alpha", "train_images", "small", 0.5, (0.4, 0.6)),
        ],
    }
    json_outputs = {
        "gz_evo_summary": summary,
        "reporting_schema": SCHEMA.to_dict(),
        "pretraining_metrics": _metrics(TEST_LOSS),
        "hybrid.pretraining_metrics": _metrics(TEST_LOSS + 1.111),
        "scaling_fits": fits,
    }
    for name, value in json_outputs.items():
        AtomicJSONDataset(str(data / FILES[name])).save(value)
    tables = {
        "reporting_test_votes": votes,
        "pretraining_test_predictions": _predictions(test_keys, rng),
        "pretraining_history": _history(1.0),
        "hybrid.pretraining_history": _history(1.1),
        "scaling_points": points,
        "downstream_summary": downstream_summary,
        "downstream_error_reductions": reductions,
    }
    for name, table in tables.items():
        AtomicParquetDataset(str(data / FILES[name])).save(table)
    figure = new_figure(2, 2)
    figure.add_subplot().plot([1, 2], [2, 1])
    FiguresDataset(str(data / FILES["scaling_figures"])).save({"loss_vs_data": figure})


def remove(data: Path, *names: str) -> None:
    """Delete the files of these catalog entries (as if their stage had not run)."""
    import shutil

    for name in names:
        path = data / FILES[name]
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def edit_json(data: Path, name: str, change) -> None:
    path = data / FILES[name]
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))
