"""Thin nodes over :mod:`gz_evo.science.predict` (torch imported inside)."""

from __future__ import annotations

from typing import Any


def predict_galaxies(encoder: dict, params: dict, seed: int) -> Any:
    """Check the catalog and encoder, then hand the batch-by-batch prediction stream to the
    ``predictions`` dataset, which writes each batch as it comes (memory stays flat)."""
    from gz_evo.science.catalog import read_catalog, resolve_bundle
    from gz_evo.science.predict import PredictionStream, Predictor, PredictSettings

    settings = PredictSettings.from_params(params)
    table = read_catalog(settings, "predict.catalog")
    bundle = resolve_bundle(settings.encoder, encoder, "predict.encoder")
    return PredictionStream(Predictor(bundle, settings.mc_dropout_samples), table, settings, seed)


def draw_prediction_gallery(
    predictions: Any, encoder: dict, params: dict, seed: int
) -> tuple[dict, dict]:
    """A gallery of example galaxies with their top answers, and the catalog's counts."""
    import numpy as np

    from gz_evo.images.decode import load_galaxy
    from gz_evo.schema import Schema
    from gz_evo.science.catalog import read_catalog, resolve_bundle
    from gz_evo.science.predict import PredictSettings, gallery_figure, select_campaigns

    settings = PredictSettings.from_params(params)
    bundle = resolve_bundle(settings.encoder, encoder, "predict.encoder")
    schema, _ = select_campaigns(Schema.from_dict(bundle["config"]["schema"]), settings.campaigns)
    friendly = predictions.table()
    chosen = np.sort(
        np.random.default_rng(seed).permutation(len(friendly))[: settings.gallery.galaxies]
    )
    rows = friendly.iloc[chosen]
    table = read_catalog(settings, "predict.catalog").set_index("id_str")
    images = [
        load_galaxy(
            table.at[galaxy, "image_path"],
            table.at[galaxy, "image_bytes"],
            settings.gallery.image_size,
        )
        for galaxy in rows["id_str"]
    ]
    figures = {"gallery": gallery_figure(images, rows, schema, settings.gallery)}
    return figures, predictions.summary()
