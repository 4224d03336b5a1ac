"""The pretraining tests' shards (written once by the images pipeline) serve the sweep too."""

from tests.pipelines.pretraining.conftest import SCHEMA, shards_path

__all__ = ["SCHEMA", "shards_path"]
