"""One reader per published Galaxy Zoo catalog format; each returns the canonical vote table.

The canonical table (one per campaign) has ``id_str``, ``campaign``, ``ra``, ``dec``,
``image_path`` (or null), ``image_bytes`` (or null), then int32 counts in the campaign's
suffixed answer columns in schema order. Pick a reader by name (``READERS``) in
``conf/base/parameters_ingestion.yml``:

================== ==================================================================
``decals``          GZ DECaLS volunteer releases (``gz_decals_volunteers_5.csv``, ...)
``gz2_hart``        Galaxy Zoo 2, Hart et al. 2016 (``gz2_hart16.csv``)
``galaxy_datasets`` galaxy-datasets catalogues (``*_train_catalog.parquet``, ...)
``huggingface``     Hugging Face parquet shards with embedded images
``user``            your own campaign: counts + ``conf/base/campaigns/<name>.yaml``
================== ==================================================================

``read_table`` reads any other catalog (downstream tasks, finetune labels) with the same checks:
every malformed file is an :class:`gz_evo.checks.IngestionError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable

from gz_evo.readers._common import header, read_table
from gz_evo.readers.decals import read_decals
from gz_evo.readers.galaxy_datasets import read_galaxy_datasets
from gz_evo.readers.gz2_hart import read_gz2_hart
from gz_evo.readers.huggingface import read_huggingface
from gz_evo.readers.images import read_downstream_catalog, read_image_catalog
from gz_evo.readers.user import read_user

READERS: dict[str, Callable] = {
    "decals": read_decals,
    "gz2_hart": read_gz2_hart,
    "galaxy_datasets": read_galaxy_datasets,
    "huggingface": read_huggingface,
    "user": read_user,
}

__all__ = [
    "READERS",
    "header",
    "read_decals",
    "read_downstream_catalog",
    "read_galaxy_datasets",
    "read_gz2_hart",
    "read_huggingface",
    "read_image_catalog",
    "read_table",
    "read_user",
]
