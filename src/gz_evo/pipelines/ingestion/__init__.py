"""The ``ingestion`` pipeline: each raw campaign catalog, in its published format, becomes a
canonical vote table (``data/02_intermediate/<campaign>_votes.parquet``), checked on the way."""

from gz_evo.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
