"""Prediction catalogs: per galaxy and answer, the expected vote fraction, its interval from the
Dirichlet, and the probability that the question would be asked.

For one question with concentrations ``a`` (total ``A``) the fraction of volunteers choosing
answer ``k`` has the Beta(``a_k``, ``A - a_k``) marginal. With ``S`` MC-dropout samples of the
head the prediction is the equal mixture of the ``S`` Dirichlets: the expected fraction is the
mean of ``a_k / A`` over samples and the interval's ends are quantiles of the mixture of Betas
(found by bisection on its CDF). The probability that a question is asked is the product of the
expected fractions of the answers that lead to it (``Schema.ancestors``), as the published GZ
DECaLS catalogs give it: ``bar-dr5`` is asked with probability
``f(smooth-or-featured-dr5_featured-or-disk) * f(disk-edge-on-dr5_no)``.

Tables (one row per galaxy): the friendly one has ``id_str``, ``{answer}_fraction`` per answer
and ``{question}_proportion_asked`` per question; the full one adds ``{answer}_lower`` /
``_upper`` (the interval), ``{answer}_concentration`` (mean over samples) and, with MC dropout,
``{answer}_concentration_{s}`` per sample ``s``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gz_evo.config import from_params
from gz_evo.evaluation.dirichlet import expected_fractions, proportion_asked, question_totals
from gz_evo.schema import Schema
from gz_evo.science.catalog import (
    CatalogSettings,
    ScienceInputError,
    iter_batches,
    log_bad,
)

logger = logging.getLogger(__name__)

#: the most safeguarded Newton steps for the quantiles of a mixture, and the CDF error that
#: stops them (MC-dropout samples are close: a few steps; far-apart samples bisect longer)
MIXTURE_STEPS, MIXTURE_TOLERANCE = 60, 1e-7


@dataclass(frozen=True)
class GallerySettings:
    """``predict.gallery``: how many galaxies (a seeded choice), whose questions label them
    (a campaign; null: the schema's first), how many top answers each shows, and the side in
    pixels its images are drawn at."""

    galaxies: int
    campaign: str | None
    answers: int
    image_size: int


@dataclass(frozen=True)
class PredictSettings(CatalogSettings):
    """``predict`` in parameters_predict.yml (every key required there): the catalog keys of
    :class:`CatalogSettings`, then these."""

    encoder: str
    campaigns: tuple[str, ...] | None
    mc_dropout_samples: int
    interval: float
    batch_size: int
    num_workers: int
    progress_bar: bool
    gallery: GallerySettings

    @classmethod
    def from_params(cls, params: dict) -> PredictSettings:
        settings = from_params(cls, params, "predict")
        if settings.mc_dropout_samples < 0:
            raise ScienceInputError("predict.mc_dropout_samples must be 0 (no dropout) or more")
        if not 0.0 < settings.interval < 1.0:
            raise ScienceInputError(f"predict.interval must be in (0, 1), got {settings.interval}")
        return settings


# --- the mathematics ------------------------------------------------------------------------
def mixture_fractions(concentrations: np.ndarray, schema: Schema) -> np.ndarray:
    """Expected vote fractions ``[N, A]`` of the mixture of ``S`` Dirichlets ``[N, S, A]``."""
    return expected_fractions(concentrations.astype(np.float64), schema).mean(axis=1)


def mixture_intervals(
    concentrations: np.ndarray, schema: Schema, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval ``([N, A], [N, A])`` of each answer's fraction under the
    mixture of the ``S`` samples' Beta marginals (exact quantiles for one sample).

    Mixtures: safeguarded Newton steps on the mixture's CDF, from the quantile of the Beta with
    the mixture's mean and variance; a step that leaves the bracket known to hold the quantile
    bisects it instead."""
    from scipy import special

    a = concentrations.astype(np.float64)
    total = question_totals(a, schema)
    b = total - a
    tail = (1.0 - level) / 2.0
    if a.shape[1] == 1:
        return special.betaincinv(a[:, 0], b[:, 0], tail), special.betaincinv(
            a[:, 0], b[:, 0], 1.0 - tail
        )
    mean_s = a / total
    mean = mean_s.mean(axis=1)
    variance = (mean_s * (1 - mean_s) / (total + 1)).mean(axis=1) + mean_s.var(axis=1)
    common = np.clip(mean * (1 - mean) / np.maximum(variance, 1e-12) - 1.0, 1e-6, None)
    log_norm = special.betaln(a, b)
    ends = []
    for p in (tail, 1.0 - tail):
        x = special.betaincinv(mean * common, (1 - mean) * common, p)
        low, high = np.zeros_like(x), np.ones_like(x)
        for _ in range(MIXTURE_STEPS):
            inner = np.clip(x, 1e-12, 1 - 1e-12)[:, None, :]
            error = special.betainc(a, b, inner).mean(axis=1) - p
            if np.abs(error).max() < MIXTURE_TOLERANCE:
                break
            low, high = np.where(error < 0, x, low), np.where(error < 0, high, x)
            log_pdf = (a - 1) * np.log(inner) + (b - 1) * np.log1p(-inner) - log_norm
            density = np.exp(log_pdf).mean(axis=1)
            step = x - error / np.maximum(density, 1e-300)
            inside = (step >= low) & (step <= high)
            x = np.where(
                np.abs(error) < MIXTURE_TOLERANCE, x, np.where(inside, step, (low + high) / 2.0)
            )
        ends.append(x)
    return ends[0], ends[1]


def prediction_tables(
    ids: list[str], concentrations: np.ndarray, schema: Schema, level: float, samples: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The friendly and the full table of a batch (``concentrations``: ``[N, S, A]``; ``samples``:
    whether the ``S`` columns are MC-dropout samples worth keeping)."""
    fractions = mixture_fractions(concentrations, schema)
    lower, upper = mixture_intervals(concentrations, schema, level)
    asked = proportion_asked(fractions, schema)
    answers, questions = schema.answer_columns, schema.question_names
    friendly: dict[str, Any] = {"id_str": pd.array(ids, dtype="string")}
    friendly |= {f"{c}_fraction": fractions[:, j].astype(np.float32) for j, c in enumerate(answers)}
    asked_columns = {
        f"{q}_proportion_asked": asked[:, i].astype(np.float32) for i, q in enumerate(questions)
    }
    full: dict[str, Any] = dict(friendly)
    for j, column in enumerate(answers):
        full[f"{column}_lower"] = lower[:, j].astype(np.float32)
        full[f"{column}_upper"] = upper[:, j].astype(np.float32)
    full |= asked_columns
    mean = concentrations.mean(axis=1)
    full |= {f"{c}_concentration": mean[:, j].astype(np.float32) for j, c in enumerate(answers)}
    if samples:
        for s in range(concentrations.shape[1]):
            full |= {
                f"{c}_concentration_{s}": concentrations[:, s, j].astype(np.float32)
                for j, c in enumerate(answers)
            }
    return pd.DataFrame(friendly | asked_columns), pd.DataFrame(full)


# --- the model and the stream ---------------------------------------------------------------
def select_campaigns(schema: Schema, campaigns: tuple[str, ...] | None) -> tuple[Schema, list]:
    """The schema of the chosen campaigns (all: None) and their answers' output indices."""
    if campaigns is None:
        return schema, list(range(schema.n_answers))
    unknown = sorted(set(campaigns) - set(schema.campaigns))
    if unknown:
        raise ScienceInputError(
            f"predict.campaigns: the encoder was not trained on {unknown}; it knows "
            f"{schema.campaigns} (null: all of them)"
        )
    chosen = Schema(
        tuple(q for q in schema.questions if q.campaign in campaigns), name="+".join(campaigns)
    )
    index = {column: i for i, column in enumerate(schema.answer_columns)}
    return chosen, [index[column] for column in chosen.answer_columns]


class Predictor:
    """A bundle's encoder + Dirichlet head: uint8 images -> concentrations ``[B, S, A]``."""

    def __init__(self, bundle: dict, samples: int) -> None:
        from gz_evo.models.bundle import model_from_bundle
        from gz_evo.training.augment import GalaxyAugment

        config = bundle["config"]
        try:
            self.model = model_from_bundle(bundle, "predict.encoder")
        except ValueError as error:
            raise ScienceInputError(str(error)) from None
        self.schema = Schema.from_dict(config["schema"])
        self.image_size = int(config["image_size"])
        self.augment = GalaxyAugment(**config["augment"])
        self.samples = samples
        self.model[1].mc_dropout = samples > 0

    def __call__(self, images: Any) -> np.ndarray:
        import torch

        encoder, head = self.model
        with torch.inference_mode():
            features = encoder(self.augment.eval_view(images))
            draws = [head(features) for _ in range(max(self.samples, 1))]
        return torch.stack(draws, dim=1).double().numpy()


class PredictionStream:
    """Iterating predicts the catalog batch by batch and yields ``{"friendly", "full", "bad"}``
    chunks (what ``PredictionCatalogDataset`` writes); afterwards ``summary`` holds the counts.
    Raises when no image of the catalog can be used."""

    def __init__(
        self, predictor: Predictor, table: pd.DataFrame, settings: PredictSettings, seed: int
    ) -> None:
        self.predictor, self.table, self.settings, self.seed = predictor, table, settings, seed
        self.schema, self.columns = select_campaigns(predictor.schema, settings.campaigns)
        self.summary: dict | None = None

    def __iter__(self):
        import torch

        torch.manual_seed(self.seed)  # the MC-dropout masks
        settings, started = self.settings, time.perf_counter()
        predicted, bad = 0, []
        batches = iter_batches(
            self.table,
            self.predictor.image_size,
            settings.batch_size,
            settings.num_workers,
            settings.progress_bar,
            "predicting",
        )
        for batch in batches:
            bad.append(batch.bad)
            if batch.ids:
                concentrations = self.predictor(batch.images)[:, :, self.columns]
                friendly, full = prediction_tables(
                    batch.ids,
                    concentrations,
                    self.schema,
                    settings.interval,
                    samples=settings.mc_dropout_samples > 0,
                )
                predicted += len(batch.ids)
            else:
                friendly = full = pd.DataFrame()
            yield {"friendly": friendly, "full": full, "bad": batch.bad}
        elapsed = time.perf_counter() - started
        bad_table = pd.concat(bad, ignore_index=True)
        log_bad(bad_table, len(self.table), "predict")
        if predicted == 0:
            first = "; ".join(f"{f} ({r})" for f, r in bad_table[["file", "reason"]].head(3).values)
            raise ScienceInputError(
                f"predict.catalog: none of the {len(self.table)} images could be used "
                f"(first: {first}); check predict.image_column and predict.image_root"
            )
        logger.info(
            "predict: %d galaxies in %.1f s (%.0f images/s)",
            predicted,
            elapsed,
            (predicted + len(bad_table)) / max(elapsed, 1e-9),
        )
        self.summary = {
            "galaxies": predicted,
            "bad_images": len(bad_table),
            "bad_reasons": {str(k): int(v) for k, v in bad_table["reason"].value_counts().items()},
            "questions": self.schema.n_questions,
            "answers": self.schema.n_answers,
            "campaigns": self.schema.campaigns,
            "mc_dropout_samples": settings.mc_dropout_samples,
            "interval": settings.interval,
        }


# --- the gallery ----------------------------------------------------------------------------
def top_answers(row: pd.Series, schema: Schema, campaign: str, n: int) -> list[str]:
    """The ``n`` answers of ``campaign`` most volunteers would give (fraction x asked)."""
    scored = []
    for question in schema.campaign_questions(campaign):
        asked = float(row[f"{question.name}_proportion_asked"])
        for answer, column in zip(question.answers, question.answer_columns, strict=True):
            fraction = float(row[f"{column}_fraction"])
            scored.append((fraction * asked, f"{question.base_name}: {answer} {fraction:.2f}"))
    return [text for _, text in sorted(scored, key=lambda item: -item[0])[:n]]


def gallery_figure(
    images: list[np.ndarray], rows: pd.DataFrame, schema: Schema, settings: GallerySettings
) -> Figure:
    """Example galaxies, each with its id and top answers (expected fraction after the answer)."""
    campaign = settings.campaign or schema.campaigns[0]
    if campaign not in schema.campaigns:
        raise ScienceInputError(
            f"predict.gallery.campaign: {campaign!r} is not among the predicted campaigns "
            f"{schema.campaigns}"
        )
    n = len(images)
    columns = min(4, max(n, 1))
    grid_rows = -(-n // columns)
    figure = Figure(figsize=(3.0 * columns, 3.2 * grid_rows))
    for i, (image, (_, row)) in enumerate(zip(images, rows.iterrows(), strict=True)):
        axes = figure.add_subplot(grid_rows, columns, i + 1)
        axes.imshow(image)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(str(row["id_str"]), fontsize=8)
        axes.text(
            0.02,
            0.02,
            "\n".join(top_answers(row, schema, campaign, settings.answers)),
            transform=axes.transAxes,
            color="white",
            fontsize=7,
            va="bottom",
        )
    figure.suptitle(f"predicted answers ({campaign} questions: expected vote fraction)")
    figure.tight_layout()
    return figure
