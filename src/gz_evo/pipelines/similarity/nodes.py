"""Thin nodes over :mod:`gz_evo.science.similarity` (torch imported inside)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: the key of the main encoder's features in ``similarity_features``
MAIN = "gz_evo"


def embed_similarity_catalog(encoder: dict, params: dict, seed: int) -> dict[str, np.ndarray]:
    """Frozen features of the catalog's galaxies with the encoder and each baseline (streamed
    in batches); unusable images are left out and listed (``bad_ids``)."""
    from gz_evo.science.catalog import embed_catalog, log_bad, read_catalog, resolve_bundle
    from gz_evo.science.similarity import SimilaritySettings
    from gz_evo.training.downstream import EncoderChoice, augment_of, build_encoders

    settings = SimilaritySettings.from_params(params)
    table = read_catalog(settings, "similarity.catalog")
    bundle = resolve_bundle(settings.encoder, encoder, "similarity.encoder")
    reference = bundle["config"]
    choices = [EncoderChoice(MAIN, "bundle", bundle)]
    choices += [EncoderChoice(name, name) for name in settings.baselines]
    encoders = build_encoders(choices, reference, seed)
    augment = augment_of(reference)
    ids, result, bad = embed_catalog(
        encoders,
        augment,
        table,
        int(reference["image_size"]),
        settings.batch_size,
        settings.num_workers,
        settings.progress_bar,
    )
    log_bad(bad, len(table), "similarity")
    if not ids:
        raise ValueError(f"similarity.catalog: none of the {len(table)} images could be used")
    result["ids"] = np.array(ids, dtype=str)
    result["bad_ids"] = bad["id_str"].to_numpy(dtype=str)
    return result


def reduce_similarity_features(features: dict, params: dict, seed: int) -> dict[str, np.ndarray]:
    """PCA of the main encoder's features: components, explained variance, reduced features."""
    from gz_evo.science.similarity import SimilaritySettings, fit_pca

    settings = SimilaritySettings.from_params(params)
    pca = fit_pca(features[MAIN], settings.pca_components, seed)
    explained = float(pca["explained_variance_ratio"].sum())
    logger.info(
        "similarity: PCA to %d components keeps %.1f%% of the variance",
        len(pca["components"]),
        100 * explained,
    )
    return {"ids": features["ids"], **pca}


def build_similarity_index(pca: dict, params: dict) -> dict[str, np.ndarray]:
    """The nearest-neighbour index over the PCA features (scikit-learn or faiss by size)."""
    from gz_evo.science.similarity import NeighbourIndex, SimilaritySettings

    settings = SimilaritySettings.from_params(params)
    index = NeighbourIndex.build(pca["reduced"], settings.index)
    logger.info("similarity: %s index of %d galaxies", index.backend, len(index.vectors))
    return {"ids": pca["ids"], **index.to_arrays()}


def find_similar_galaxies(
    pca: dict, index: dict, encoder: dict, params: dict, seed: int
) -> tuple[pd.DataFrame, dict]:
    """The query (``similarity.query.id`` or ``.image``; else ``examples`` seeded galaxies):
    its ``k`` most similar galaxies as a table and an image grid."""
    from gz_evo.images.decode import load_galaxy
    from gz_evo.science.catalog import read_catalog, resolve_bundle
    from gz_evo.science.similarity import (
        NeighbourIndex,
        SimilaritySearch,
        SimilaritySettings,
        neighbour_grid,
    )

    settings = SimilaritySettings.from_params(params)
    query = settings.query
    bundle = (
        resolve_bundle(settings.encoder, encoder, "similarity.encoder") if query.image else None
    )
    search = SimilaritySearch(index["ids"], pca, NeighbourIndex.from_arrays(index), bundle)
    table = read_catalog(settings, "similarity.catalog").set_index("id_str")

    def image_of(galaxy: str) -> np.ndarray:
        return load_galaxy(
            table.at[galaxy, "image_path"], table.at[galaxy, "image_bytes"], query.image_size
        )

    if query.image is not None:
        queries = [
            (
                str(query.image),
                search.similar_to_image(query.image, query.k),
                load_galaxy(query.image, None, query.image_size),
            )
        ]
    else:
        chosen = (
            [str(query.id)]
            if query.id is not None
            else np.random.default_rng(seed)
            .choice(search.ids, query.examples, replace=False)
            .tolist()
        )
        queries = [(g, search.similar(g, query.k), image_of(g)) for g in chosen]
    results = pd.concat(
        [
            result.assign(query=name)[["query", "rank", "id_str", "similarity"]]
            for name, result, _ in queries
        ],
        ignore_index=True,
    )
    images = {galaxy: image_of(galaxy) for galaxy in results["id_str"].unique()}
    grid = neighbour_grid(
        [(name, image) for name, _, image in queries], [result for _, result, _ in queries], images
    )
    return results, {"neighbours": grid}


def score_similarity_truth(
    features: dict, params: dict, seed: int
) -> tuple[pd.DataFrame, dict, dict, dict]:
    """On the demo universe: how often neighbours share the query's latent morphology, for the
    encoder and each baseline (each reduced with the same PCA settings). Skipped, with one log
    line and an empty table, where the catalog's galaxies are not in the demo truth."""
    from gz_evo.science.similarity import (
        SimilaritySettings,
        agreement_figure,
        fit_pca,
        neighbour_agreement,
        read_truth,
        truth_properties,
    )

    settings = SimilaritySettings.from_params(params)
    truth = read_truth(settings.truth.table)
    ids = features["ids"]
    properties = (
        truth_properties(truth, ids, settings.truth.properties)
        if truth is not None
        else pd.DataFrame(index=ids)
    )
    known = properties.notna().all(axis=1).to_numpy() & (truth is not None)
    if known.sum() < settings.truth.k + 2:
        logger.info(
            "similarity: the catalog's galaxies are not in the demo truth; the truth "
            "comparison is skipped"
        )
        return pd.DataFrame(), {}, {"skipped": "catalog not in the demo truth"}, {}
    known_properties = properties[known].reset_index(drop=True)
    for name in known_properties.columns:  # booleans read back from NaN-able columns
        if set(known_properties[name].unique()) <= {True, False}:
            known_properties[name] = known_properties[name].astype(bool)
    tables = []
    for name in [MAIN, *settings.baselines]:
        reduced = fit_pca(features[name][known], settings.pca_components, seed)["reduced"]
        tables.append(neighbour_agreement(reduced, known_properties, settings.truth.k, name))
    table = pd.concat(tables, ignore_index=True)
    metrics: dict[str, Any] = {"galaxies": int(known.sum()), "k": settings.truth.k}
    for row in table.itertuples(index=False):
        metrics.setdefault(row.property, {"chance": round(row.chance, 4)})
        metrics[row.property][row.encoder] = round(row.agreement, 4)
    mlflow = {
        f"{row.property}/{row.encoder}": {"value": float(row.agreement), "step": 0}
        for row in table.itertuples(index=False)
    }
    return table, {"neighbour_agreement": agreement_figure(table)}, metrics, mlflow
