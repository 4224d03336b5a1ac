"""Kedro datasets that write atomically: an interrupted stage leaves the previous good output.

kedro-datasets writes straight to the target path, so a killed run can leave half a parquet file
that DVC or the next pipeline would read as valid. These datasets write to a temporary file beside
the target and rename it into place (atomic on POSIX filesystems). Heavy libraries are imported
inside methods, because kedro-mlflow's hook materialises every catalog entry on every command.
"""

from gz_evo.datasets.atomic import (
    AtomicCSVDataset,
    AtomicJSONDataset,
    AtomicParquetDataset,
    AtomicTextDataset,
    atomic_write_dir,
    atomic_write_path,
    replace_directory,
)

__all__ = [
    "AtomicCSVDataset",
    "AtomicJSONDataset",
    "AtomicParquetDataset",
    "AtomicTextDataset",
    "atomic_write_dir",
    "atomic_write_path",
    "replace_directory",
]
