"""Finetune a saved encoder on a user's own labelled catalog (a few hundred galaxies). Kedro-free.

::

    settings = FinetuneSettings.from_params(params["finetune"])
    result = finetune_user_catalog(settings, params["pretraining"], seed=42)
    result.bundle        # encoder + head, for gz_evo.models.load_finetuned
    result.metrics       # test-split scores, split sizes, bad images
    result.figures       # {"calibration": Figure}
    result.predictions   # predict_catalog's galaxies (or an empty table)

Every check runs before anything is returned, so a caller that saves the results afterwards
(the ``finetune`` pipeline) writes nothing when the catalog is wrong: the catalog parameter,
file and columns (:meth:`DownstreamTask.read_catalog`), the labels
(:func:`gz_evo.evaluation.transfer.check_labels`), unreadable images (fatal above
``max_bad_fraction``) and the number of usable labelled galaxies (``min_labelled``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gz_evo.checks import CatalogError, check_unique_ids
from gz_evo.config import ConfigError, from_params, merged
from gz_evo.datasets.pretraining import load_encoder_bundle
from gz_evo.evaluation.transfer import check_labels, score_predictions
from gz_evo.models.bundle import encoder_bundle
from gz_evo.plotting import styled
from gz_evo.readers import header, read_table
from gz_evo.training.downstream import DownstreamTask
from gz_evo.training.finetune import finetune_config, fit_finetune, predict_labels

logger = logging.getLogger(__name__)

#: how many bad files an error message lists
SHOWN = 5


@dataclass(frozen=True)
class FinetuneSettings:
    """``finetune`` in parameters_finetune.yml (every key required there)."""

    catalog: str | None
    id_column: str
    image_column: str
    label: str
    kind: Literal["binary", "multiclass", "regression"]
    image_root: str | None
    encoder: str
    val_fraction: float
    test_fraction: float
    max_bad_fraction: float
    min_labelled: int
    predict_catalog: str | None
    workdir: str
    changes: dict

    @classmethod
    def from_params(cls, params: dict) -> FinetuneSettings:
        return from_params(cls, params, "finetune")

    def task(self, catalog: str) -> DownstreamTask:
        return DownstreamTask(
            name="finetune", catalog=catalog, id_column=self.id_column,
            image_column=self.image_column, label=self.label, kind=self.kind,
            image_root=self.image_root, requires=None, val_fraction=self.val_fraction,
            test_fraction=self.test_fraction,
        )  # fmt: skip


@dataclass
class FinetuneResult:
    bundle: dict
    metrics: dict
    figures: dict[str, Figure]
    predictions: pd.DataFrame


def labelled_table(settings: FinetuneSettings) -> tuple[pd.DataFrame, Path]:
    """The catalog's labelled rows (``id_str``, ``image_path``, the label; index: the catalog's
    row numbers, 0 for the first data row), labels checked and typed for ``settings.kind``."""
    if not settings.catalog:
        raise ConfigError(
            "finetune.catalog is not set: set finetune.catalog=path (a CSV or parquet file), "
            'e.g. kedro run --pipelines finetune --params "finetune.catalog=my_labels.csv,'
            'finetune.label=ring"'
        )
    table, root = settings.task(settings.catalog).read_catalog(None)
    label, where = settings.label, f"{settings.catalog} column {settings.label!r}"
    unlabelled = table[label].isna()
    if unlabelled.any():
        logger.info("finetune: %d rows of %s have no %r label and are left out",
                    int(unlabelled.sum()), settings.catalog, label)  # fmt: skip
    table = table[~unlabelled]
    _check_count(len(table), settings, "labelled")
    check_labels(table[label].to_numpy(), settings.kind, where, rows=table.index)
    table = table.copy()
    if settings.kind == "regression":
        table[label] = pd.to_numeric(table[label]).astype(np.float64)
    elif pd.api.types.is_float_dtype(table[label]):  # 0/1 read as floats beside empty cells
        values = table[label]
        fractional = ~np.isfinite(values) | (values != values.round()) | (values.abs() > 2**53)
        if fractional.any():
            row = table.index[fractional][0]
            value = table[label][row]
            value = value.item() if hasattr(value, "item") else value
            message = (
                f"{where}: kind {settings.kind} needs classes (integers or text), got "
                f"{value!r} at row {row}: use kind regression for a measurement"
            )
            raise CatalogError(settings.catalog, message, label, message=message)
        table[label] = table[label].astype(np.int64)
    return table, root


def _check_count(n: int, settings: FinetuneSettings, what: str) -> None:
    if n < settings.min_labelled:
        message = (
            f"{settings.catalog} has {n} {what} galaxies in column {settings.label!r}, fewer "
            f"than finetune.min_labelled={settings.min_labelled}: label more galaxies"
        )
        raise CatalogError(settings.catalog, message, settings.label, message=message)


def _check_bad(bad: pd.DataFrame, rows: pd.Series, n: int, limit: float, where: str) -> None:
    """Log the bad images; raise when more than ``limit`` of the ``n`` galaxies are bad."""
    if bad.empty:
        return
    listed = [
        f"{file} (row {rows[str(id_str)]}, id {id_str!r}: {reason})"
        for id_str, file, reason in bad[["id_str", "file", "reason"]].itertuples(index=False)
    ]
    fraction = len(bad) / max(n, 1)
    if fraction > limit:
        message = (
            f"{where}: {len(bad)} of {n} images ({fraction:.0%}) are missing or unreadable, "
            f"more than finetune.max_bad_fraction={limit}; first: {'; '.join(listed[:SHOWN])}"
        )
        raise CatalogError(where, message, message=message)
    logger.warning("finetune: %d bad images of %s left out: %s", len(bad), where,
                   "; ".join(listed))  # fmt: skip


def _datamodule(table: pd.DataFrame, label: str, root: Path, image_size: int, seed: int,
                settings: FinetuneSettings, batch_size: int):  # fmt: skip
    from gz_evo.training.data import DownstreamDataModule

    module = DownstreamDataModule(
        table.reset_index(drop=True), label, image_size=image_size, batch_size=batch_size,
        seed=seed, val_fraction=settings.val_fraction, test_fraction=settings.test_fraction,
        image_root=root,
    )  # fmt: skip
    module.setup()
    return module


def _row_numbers(table: pd.DataFrame) -> pd.Series:
    return pd.Series(table.index, index=table["id_str"].astype(str))


def finetune_user_catalog(
    settings: FinetuneSettings, pretraining_params: dict, seed: int
) -> FinetuneResult:
    """Check the catalog, finetune the encoder on it, score it on the test split and predict
    ``predict_catalog`` (every check first: nothing comes back from a wrong catalog)."""
    from gz_evo.training.augment import GalaxyAugment

    table, root = labelled_table(settings)
    # the predict catalog's file and columns are checked before the long part
    to_predict = _predict_table(settings) if settings.predict_catalog else None
    bundle = load_encoder_bundle(settings.encoder)
    reference = bundle["config"]
    n_classes = 1 if settings.kind == "regression" else int(table[settings.label].nunique())
    changes = merged(
        settings.changes,
        {
            "workdir": settings.workdir,
            "model": {"architecture": reference["architecture"],
                      "timm_kwargs": dict(reference.get("timm_kwargs", {}))},
            "objectives": {"finetune": {"kind": settings.kind, "n_classes": n_classes}},
        },
    )  # fmt: skip
    config = finetune_config(pretraining_params, changes)
    data = _datamodule(table, settings.label, root, reference["image_size"], seed, settings,
                       config.data.batch_size)  # fmt: skip
    _check_bad(data.bad, _row_numbers(table), len(table), settings.max_bad_fraction,
               settings.catalog)  # fmt: skip
    usable = sum(len(data.datasets[s]) for s in ("train", "val", "test"))
    _check_count(usable, settings, "labelled galaxies with readable images; usable")
    for split in ("train", "val", "test"):
        if not len(data.datasets[split]):
            message = (
                f"{settings.catalog}: no {split} galaxies from {usable} usable ones: raise "
                "finetune.val_fraction / test_fraction or label more galaxies"
            )
            raise CatalogError(settings.catalog, message, message=message)
    predict_data = None
    if to_predict is not None:
        predict_table, predict_root = to_predict
        predict_data = _datamodule(predict_table, "_unused", predict_root,
                                   reference["image_size"], seed, settings,
                                   config.data.batch_size)  # fmt: skip
        _check_bad(predict_data.bad, _row_numbers(predict_table), len(predict_table),
                   settings.max_bad_fraction, settings.predict_catalog)  # fmt: skip

    augment = GalaxyAugment.from_params(reference["augment"], seed=seed)
    module = fit_finetune(data, config, augment, bundle, seed)
    classes = data.classes.get(settings.label)
    tested = predict_labels(module, data.test_dataloader(), config.trainer.precision)
    metrics = {
        "kind": settings.kind,
        "label": settings.label,
        "classes": classes,
        "galaxies": {s: len(data.datasets[s]) for s in ("train", "val", "test")},
        "bad_images": data.bad["id_str"].astype(str).tolist(),
        "test": _scores(tested, settings.kind),
    }
    figures = {"calibration": calibration_figure(tested, settings.kind, settings.label)}
    if predict_data is not None:
        predicted = predict_labels(module, predict_data.test_dataloader(), config.trainer.precision)
        predictions = label_prediction_table(predicted, settings.kind, classes)
    else:
        predictions = label_prediction_table(None, settings.kind, classes)
    model = {"architecture": reference["architecture"],
             "timm_kwargs": dict(reference.get("timm_kwargs", {})), "method": "finetune",
             "head": "linear", "dropout": config.objective_config().dropout}  # fmt: skip
    extra = {"kind": settings.kind, "label": settings.label, "classes": classes,
             "n_outputs": n_classes, "augment": reference["augment"],
             "encoder_source": str(settings.encoder)}  # fmt: skip
    augment_config = reference["augment"]
    normalisation = reference.get("normalisation") or {
        key: augment_config[key] for key in ("mean", "std")
    }
    saved = encoder_bundle(module.encoder, module.objective.head, model, None,
                           reference["image_size"], normalisation, extra)  # fmt: skip
    return FinetuneResult(saved, metrics, figures, predictions)


def _predict_table(settings: FinetuneSettings) -> tuple[pd.DataFrame, Path]:
    """``predict_catalog`` as ``id_str``, ``image_path`` and a placeholder label (all test)."""
    path = Path(settings.predict_catalog)
    if not path.exists():
        raise FileNotFoundError(f"finetune.predict_catalog: {path} does not exist")
    wanted = [settings.id_column, settings.image_column]
    columns = header(path)
    missing = [c for c in wanted if c not in columns]
    if missing:
        message = f"finetune.predict_catalog: {path} has no column(s) {missing} (it has {columns})"
        raise CatalogError(str(path), message, missing[0], message=message)
    table = read_table(path, wanted, wanted)
    check_unique_ids(table[settings.id_column].reset_index(drop=True), str(path),
                     settings.id_column)  # fmt: skip
    table = table.rename(
        columns={settings.id_column: "id_str", settings.image_column: "image_path"}
    )
    table = table[["id_str", "image_path"]].assign(_unused=0.0, split="test")
    root = Path(settings.image_root) if settings.image_root else path.parent
    return table, root


def _scores(predicted: dict, kind: str) -> dict[str, float]:
    labels = np.asarray(predicted["labels"])
    if kind == "regression":
        return score_predictions(labels, np.asarray(predicted["outputs"])[:, 0], kind)
    probabilities = np.asarray(predicted["probabilities"])
    classes = np.arange(probabilities.shape[1])
    return score_predictions(labels, probabilities.argmax(1), kind, probabilities, classes)


def prediction_columns(kind: str, classes: list | None) -> list[str]:
    """``id``, ``predicted`` and, for classification, ``probability_<class>`` per class."""
    if kind == "regression":
        return ["id", "predicted"]
    return ["id", "predicted", *(f"probability_{c}" for c in classes)]


def label_prediction_table(predicted: dict | None, kind: str, classes: list | None) -> pd.DataFrame:
    """One row per galaxy: its id, the predicted label (a class, or the value) and each
    class's probability; an empty table with the same columns when ``predicted`` is None."""
    columns = prediction_columns(kind, classes)
    if predicted is None:
        empty = {c: pd.Series(dtype=object if c in ("id", "predicted") else float) for c in columns}
        if kind == "regression":
            empty["predicted"] = pd.Series(dtype=float)
        return pd.DataFrame(empty)
    if kind == "regression":
        values = np.asarray(predicted["outputs"])[:, 0].astype(float)
        return pd.DataFrame({"id": list(predicted["key"]), "predicted": values})
    probabilities = np.asarray(predicted["probabilities"], dtype=float)
    table = pd.DataFrame({
        "id": list(predicted["key"]),
        "predicted": [classes[i] for i in probabilities.argmax(1)],
    })  # fmt: skip
    for i, name in enumerate(columns[2:]):
        table[name] = probabilities[:, i]
    return table


@styled
def calibration_figure(predicted: dict, kind: str, label: str, bins: int = 10) -> Figure:
    """Classification: reliability diagram (predicted probability of the predicted class vs
    accuracy, in ``bins`` equal-width bins); regression: predicted vs true values."""
    figure = Figure(figsize=(4.5, 4.5))
    axes = figure.add_subplot()
    labels = np.asarray(predicted["labels"])
    if kind == "regression":
        values = np.asarray(predicted["outputs"])[:, 0]
        axes.scatter(labels, values, s=12)
        low, high = float(min(labels.min(), values.min())), float(max(labels.max(), values.max()))
        axes.plot([low, high], [low, high], color="grey", linestyle="--")
        axes.set(xlabel=f"true {label}", ylabel=f"predicted {label}", title="test galaxies")
    else:
        probabilities = np.asarray(predicted["probabilities"])
        confidence, correct = probabilities.max(1), probabilities.argmax(1) == labels
        edges = np.linspace(0.0, 1.0, bins + 1)
        which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
        centres, accuracy, counts = [], [], []
        for b in range(bins):
            chosen = which == b
            if chosen.any():
                centres.append(float(confidence[chosen].mean()))
                accuracy.append(float(correct[chosen].mean()))
                counts.append(int(chosen.sum()))
        axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
        axes.plot(centres, accuracy, marker="o", label="finetuned model")
        for x, y, n in zip(centres, accuracy, counts, strict=True):
            axes.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
        axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted probability of the predicted class",
                 ylabel="accuracy", title=f"{label}: test galaxies")  # fmt: skip
        axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure
