"""The campaign sources the data pipelines share: the one list to edit when adding a campaign.

Ground floor: the standard library only (no Kedro, no torch, nothing else from ``gz_evo``), so any
pipeline, test or tool can import it. The ``demo`` pipeline writes one raw folder per name in
:data:`DEMO_FOLDERS`, the ``ingestion`` pipeline reads each :data:`CAMPAIGN_SOURCES` folder into a
vote table, and the ``gz_evo`` pipeline merges those tables, in this order.

To add a campaign (say ``hubble``), add its name to :data:`CAMPAIGN_SOURCES`, then give it

- a catalog entry ``raw_hubble`` in ``conf/base/catalog.yml`` (:func:`raw_entry`: the demo
  folder by default; a ``gz_evo.datasets.raw.RawCatalogDataset`` for a real download);
- its reader in ``conf/base/parameters_ingestion.yml`` (``ingestion.campaigns.hubble``;
  ``enabled: false`` for a campaign you have no data for);
- its demo universe in ``conf/base/parameters_demo.yml`` and ``conf/test/parameters_demo.yml``
  (``demo.campaigns.hubble``: the demo pipeline writes exactly :data:`DEMO_FOLDERS`);
- its place in ``gz_evo.schema`` (``conf/base/parameters_gz_evo.yml``) to merge it;
- in ``dvc.yaml``, the ingestion stage's out ``data/02_intermediate/hubble_votes.parquet``
  (:func:`votes_entry` is its catalog entry) and the same path among the gz_evo stage's deps.

``tests/test_sources.py`` fails until every one of those places agrees with this module.
"""

from __future__ import annotations

#: Every campaign source, in the order the pipelines ingest and merge them (the order of the
#: ingestion report and of the merged table's rows).
CAMPAIGN_SOURCES: tuple[str, ...] = ("dr5", "dr8", "gz2", "candels", "demo_deep")
#: Image catalogs without campaign votes: the unlabelled images and the downstream-task catalog.
IMAGE_CATALOGS: tuple[str, ...] = ("unlabelled", "downstream")
#: Output folders of the demo pipeline under ``data/01_raw/demo/``, each with a catalog entry
#: ``raw_<folder>``: every campaign source, then the image catalogs.
DEMO_FOLDERS: tuple[str, ...] = CAMPAIGN_SOURCES + IMAGE_CATALOGS


def raw_entry(source: str) -> str:
    """The catalog entry of a raw source (a campaign or an image catalog): ``raw_<source>``."""
    return f"raw_{source}"


def votes_entry(campaign: str) -> str:
    """The catalog entry of a campaign's canonical vote table: ``<campaign>_votes``."""
    return f"{campaign}_votes"
