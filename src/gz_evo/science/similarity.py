"""Representations and similarity search: frozen encoder features of a catalog, reduced with PCA,
a nearest-neighbour index over them, and queries by galaxy id or by image file.

Similarity is the cosine between PCA-reduced features (vectors normalised to unit length, so
inner product = cosine). Below ``faiss_above`` galaxies the index is scikit-learn's exact
``NearestNeighbors``; above it, a faiss index built by ``faiss.index_factory`` (``Flat`` exact,
``HNSW32`` or ``IVF1024,Flat`` approximate for millions). Python::

    search = SimilaritySearch.from_arrays(pca, index, table, encoder_bundle)
    search.similar("J010550.36+210347.8", k=8)      # DataFrame: rank, id_str, similarity
    search.similar_to_image("my_galaxy.jpg", k=8)

On the demo universe :func:`neighbour_agreement` asks how often a galaxy's neighbours share its
latent morphology (ring, bar, tidal features, merger...), the truth the images were drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gz_evo.config import from_params
from gz_evo.science.catalog import CatalogSettings, ScienceInputError


@dataclass(frozen=True)
class IndexSettings:
    """``similarity.index``: scikit-learn up to ``faiss_above`` galaxies, faiss above it."""

    faiss_above: int
    faiss_factory: str


@dataclass(frozen=True)
class QuerySettings:
    """``similarity.query``: a galaxy id or an image file (null both: ``examples`` galaxies of
    the catalog, a seeded choice), and how many neighbours."""

    id: str | int | None
    image: str | None
    k: int
    examples: int
    image_size: int


@dataclass(frozen=True)
class TruthSettings:
    """``similarity.truth``: the demo truth table (a parquet path; absent: no comparison),
    neighbours per galaxy and the latent properties compared, each a pandas expression over the
    truth's columns (true/false, or a category)."""

    table: str
    k: int
    properties: dict


@dataclass(frozen=True)
class SimilaritySettings(CatalogSettings):
    """``similarity`` in parameters_similarity.yml (every key required there): the catalog keys
    of :class:`CatalogSettings`, then these."""

    encoder: str
    baselines: tuple[str, ...]
    pca_components: int
    batch_size: int
    num_workers: int
    progress_bar: bool
    index: IndexSettings
    query: QuerySettings
    truth: TruthSettings

    @classmethod
    def from_params(cls, params: dict) -> SimilaritySettings:
        settings = from_params(cls, params, "similarity")
        unknown = sorted(set(settings.baselines) - {"random_init"})
        if unknown:
            raise ScienceInputError(f"similarity.baselines: unknown {unknown}; known: random_init")
        return settings


# --- PCA ------------------------------------------------------------------------------------
def fit_pca(features: np.ndarray, n_components: int, seed: int) -> dict[str, np.ndarray]:
    """PCA of the features: ``components`` ``[C, F]``, ``mean``, ``explained_variance``,
    ``explained_variance_ratio`` and the ``reduced`` features ``[N, C]`` (float32)."""
    from sklearn.decomposition import PCA

    n = min(n_components, features.shape[0], features.shape[1])
    pca = PCA(n_components=n, random_state=seed).fit(features.astype(np.float64))
    return {
        "components": pca.components_.astype(np.float32),
        "mean": pca.mean_.astype(np.float32),
        "explained_variance": pca.explained_variance_.astype(np.float32),
        "explained_variance_ratio": pca.explained_variance_ratio_.astype(np.float32),
        "reduced": pca.transform(features.astype(np.float64)).astype(np.float32),
    }


def project(features: np.ndarray, pca: dict[str, np.ndarray]) -> np.ndarray:
    """New galaxies' features in an existing PCA's coordinates."""
    return ((features - pca["mean"]) @ pca["components"].T).astype(np.float32)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero): inner product = cosine."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


# --- the index ------------------------------------------------------------------------------
class NeighbourIndex:
    """Cosine nearest neighbours of unit vectors; ``search`` gives ``(similarity, index)``."""

    def __init__(self, vectors: np.ndarray, backend: str, faiss_index: Any = None) -> None:
        self.vectors, self.backend, self._faiss = vectors, backend, faiss_index
        self._sklearn = None
        if backend == "sklearn":
            from sklearn.neighbors import NearestNeighbors

            self._sklearn = NearestNeighbors(algorithm="brute", metric="euclidean").fit(vectors)

    @classmethod
    def build(cls, vectors: np.ndarray, settings: IndexSettings) -> NeighbourIndex:
        vectors = unit_rows(vectors)
        if len(vectors) <= settings.faiss_above:
            return cls(vectors, "sklearn")
        import faiss

        index = faiss.index_factory(
            vectors.shape[1], settings.faiss_factory, faiss.METRIC_INNER_PRODUCT
        )
        if not index.is_trained:
            index.train(vectors)
        index.add(vectors)
        return cls(vectors, "faiss", index)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = unit_rows(np.atleast_2d(queries))
        k = min(k, len(self.vectors))
        if self.backend == "faiss":
            similarity, index = self._faiss.search(queries, k)
            return similarity, index
        distance, index = self._sklearn.kneighbors(queries, n_neighbors=k)
        return 1.0 - distance**2 / 2.0, index  # unit vectors: |a - b|^2 = 2 - 2 cos

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"vectors": self.vectors, "backend": np.array(self.backend)}
        if self.backend == "faiss":
            import faiss

            arrays["faiss"] = faiss.serialize_index(self._faiss)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> NeighbourIndex:
        backend = str(arrays["backend"])
        if backend == "faiss":
            import faiss

            return cls(arrays["vectors"], backend, faiss.deserialize_index(arrays["faiss"]))
        return cls(arrays["vectors"], backend)


# --- queries --------------------------------------------------------------------------------
class SimilaritySearch:
    """Queries over one catalog: by id (its stored vector) or by image file (embedded with the
    encoder bundle, projected with the PCA). Results leave the query galaxy itself out."""

    def __init__(
        self, ids: np.ndarray, pca: dict, index: NeighbourIndex, bundle: dict | None = None
    ) -> None:
        self.ids = np.asarray(ids).astype(str)
        self.row = {galaxy: i for i, galaxy in enumerate(self.ids)}
        self.pca, self.index, self.bundle = pca, index, bundle
        self._encoder = None

    def _table(
        self, similarity: np.ndarray, rows: np.ndarray, skip: int | None, k: int
    ) -> pd.DataFrame:
        kept = [(s, r) for s, r in zip(similarity, rows, strict=True) if r != skip and r >= 0]
        kept = kept[:k]
        return pd.DataFrame(
            {
                "rank": np.arange(1, len(kept) + 1),
                "id_str": [self.ids[r] for _, r in kept],
                "similarity": np.array([s for s, _ in kept], dtype=np.float32),
            }
        )

    def similar(self, galaxy_id: str, k: int) -> pd.DataFrame:
        """The ``k`` galaxies most similar to catalog galaxy ``galaxy_id``."""
        galaxy_id = str(galaxy_id)
        if galaxy_id not in self.row:
            close = [i for i in self.ids if galaxy_id.lower() in i.lower()][:5]
            hint = f"; ids containing it: {close}" if close else ""
            raise ScienceInputError(
                f"similarity.query.id: galaxy {galaxy_id!r} is not in the indexed catalog "
                f"({len(self.ids)} galaxies, e.g. {list(self.ids[:3])}){hint}"
            )
        row = self.row[galaxy_id]
        similarity, rows = self.index.search(self.index.vectors[row], k + 1)
        return self._table(similarity[0], rows[0], row, k)

    def embed_image(self, path: str | Path) -> np.ndarray:
        """An image file's PCA coordinates (decoded and checked as catalog images are)."""
        from gz_evo.images.decode import BadImage, load_galaxy
        from gz_evo.models.bundle import encoder_from_bundle
        from gz_evo.training.augment import GalaxyAugment
        from gz_evo.training.downstream import embed

        if self.bundle is None:
            raise ScienceInputError("an image query needs the encoder bundle")
        config = self.bundle["config"]
        try:
            pixels = load_galaxy(str(path), None, int(config["image_size"]))
        except BadImage as error:
            raise ScienceInputError(f"similarity.query.image: {path}: {error}") from None
        if self._encoder is None:
            self._encoder = encoder_from_bundle(self.bundle)
        import torch

        image = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None]
        features = embed(self._encoder, image, GalaxyAugment(**config["augment"]), 1)
        return project(features, self.pca)

    def similar_to_image(self, path: str | Path, k: int) -> pd.DataFrame:
        """The ``k`` catalog galaxies most similar to an image file."""
        similarity, rows = self.index.search(self.embed_image(path), k)
        return self._table(similarity[0], rows[0], None, k)


# --- the demo's truth -----------------------------------------------------------------------
def read_truth(path: str) -> pd.DataFrame | None:
    """The demo universe's truth table, or None where it does not exist (a user's setup)."""
    return pd.read_parquet(path) if Path(path).is_file() else None


def truth_properties(truth: pd.DataFrame, ids: np.ndarray, properties: dict) -> pd.DataFrame:
    """Each property (a pandas expression over truth columns) for the galaxies ``ids``, in that
    order; galaxies absent from the truth are NaN rows."""
    indexed = truth.drop_duplicates("id_str").set_index("id_str")
    values = {}
    for name, expression in properties.items():
        try:
            values[name] = indexed.eval(expression)
        except Exception as error:
            raise ScienceInputError(
                f"truth property {name!r}: cannot evaluate {expression!r} on the truth columns "
                f"{list(indexed.columns)}: {error}"
            ) from None
    return pd.DataFrame(values).reindex(pd.Index(np.asarray(ids).astype(str)))


def neighbour_agreement(
    vectors: np.ndarray, properties: pd.DataFrame, k: int, encoder: str
) -> pd.DataFrame:
    """How often each galaxy's ``k`` nearest neighbours (itself left out) share its property.

    True/false properties: over the galaxies that have it, the mean fraction of their neighbours
    that have it too (``agreement``), against the fraction among all other galaxies
    (``chance``). Categories: the mean fraction of neighbours in the query's category, against
    the same for neighbours drawn at random (``sum p_c^2``, corrected for leaving one out).
    """
    index = NeighbourIndex(unit_rows(vectors), "sklearn")
    _, rows = index.search(vectors, k + 1)
    neighbours = np.array([[r for r in row if r != i][:k] for i, row in enumerate(rows)])
    records = []
    for name in properties.columns:
        values = properties[name].to_numpy()
        n = len(values)
        if properties[name].dtype == bool:
            positive = values.astype(bool)
            queries = np.flatnonzero(positive)
            agreement = positive[neighbours[queries]].mean() if len(queries) else np.nan
            chance = (positive.sum() - 1) / (n - 1) if len(queries) else np.nan
            kind = "binary"
        else:
            queries = np.arange(n)
            agreement = (values[neighbours] == values[:, None]).mean()
            counts = pd.Series(values).value_counts().to_numpy()
            chance = float((counts * (counts - 1)).sum() / (n * (n - 1)))
            kind = "category"
        records.append(
            {
                "encoder": encoder,
                "property": name,
                "kind": kind,
                "queries": len(queries),
                "k": k,
                "agreement": float(agreement),
                "chance": float(chance),
                "lift": float(agreement / chance) if chance else np.nan,
            }
        )
    return pd.DataFrame(records)


def agreement_figure(table: pd.DataFrame) -> Figure:
    """Neighbour agreement per property, one bar per encoder, chance as a black tick."""
    figure = Figure(figsize=(7.5, 4))
    axes = figure.add_subplot()
    properties = list(dict.fromkeys(table["property"]))
    encoders = list(dict.fromkeys(table["encoder"]))
    width = 0.8 / max(len(encoders), 1)
    x = np.arange(len(properties))
    for i, encoder in enumerate(encoders):
        rows = table[table["encoder"] == encoder].set_index("property").loc[properties]
        axes.bar(x + i * width, rows["agreement"], width, label=encoder)
    chance = table.drop_duplicates("property").set_index("property").loc[properties, "chance"]
    axes.scatter(
        x + 0.4 - width / 2, chance, marker="_", s=400, color="black", label="chance", zorder=3
    )
    k = int(table["k"].iloc[0])
    axes.set(
        xticks=x + 0.4 - width / 2,
        ylabel=f"fraction of {k} nearest neighbours sharing it",
        ylim=(0, 1),
        title="neighbours sharing the query's latent morphology (demo truth)",
    )
    axes.set_xticklabels(properties)
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def neighbour_grid(
    queries: list[tuple[str, np.ndarray]],
    results: list[pd.DataFrame],
    images: dict[str, np.ndarray],
) -> Figure:
    """One row per query: the query's image, then its neighbours' with their similarity."""
    k = max((len(r) for r in results), default=0)
    figure = Figure(figsize=(1.6 * (k + 1), 1.8 * len(queries)))
    for row, ((name, image), result) in enumerate(zip(queries, results, strict=True)):
        axes = figure.add_subplot(len(queries), k + 1, row * (k + 1) + 1)
        axes.imshow(image)
        axes.set_title(f"query\n{name}", fontsize=6, color="darkred")
        axes.axis("off")
        for j, (galaxy, similarity) in enumerate(
            zip(result["id_str"], result["similarity"], strict=True)
        ):
            axes = figure.add_subplot(len(queries), k + 1, row * (k + 1) + j + 2)
            axes.imshow(images[galaxy])
            axes.set_title(f"{galaxy}\n{similarity:.3f}", fontsize=6)
            axes.axis("off")
    figure.tight_layout()
    return figure
