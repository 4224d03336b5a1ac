"""The ``similarity`` pipeline: frozen features of a catalog, PCA, a nearest-neighbour index,
queries by id or image file, and (on the demo) neighbours against the latent truth."""

from gz_evo.pipelines.similarity.pipeline import create_pipeline

__all__ = ["create_pipeline"]
