"""Wiring of the ``ingestion`` pipeline: one node per raw source, then one report."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.ingestion.nodes import (
    build_ingestion_report,
    ingest_campaign,
    ingest_downstream,
    ingest_unlabelled,
)

#: The campaign sources: each has a raw catalog entry (``RAW_INPUT``), parameters
#: ``ingestion.campaigns.<name>`` and an output ``<name>_votes``. Add a name here (and those two
#: entries) to ingest another campaign; set ``enabled: false`` for one you have no data for.
CAMPAIGN_SOURCES: tuple[str, ...] = ("dr5", "dr8", "gz2", "candels", "demo_deep")
#: The raw input of a source: the demo pipeline's output folder of the same name, so that
#: ``kedro run`` renders the demo universe first; real downloads redefine these entries.
RAW_INPUT = "raw_{source}"


def _for_campaign(campaign: str):
    function = partial(ingest_campaign, campaign=campaign)
    update_wrapper(function, ingest_campaign)
    return function


def _report(*results):
    return build_ingestion_report(list(CAMPAIGN_SOURCES), *results)


def _catalog_node(function: Callable, source: str, output: str) -> Node:
    """The node reading the image catalog ``source`` (``unlabelled``, ``downstream``)."""
    return Node(
        function,
        inputs=[
            RAW_INPUT.format(source=source),
            f"params:ingestion.{source}",
            "params:ingestion.check_images",
        ],
        outputs=output,
        name=f"ingest_{source}",
    )


def create_pipeline(**kwargs) -> Pipeline:
    nodes = [
        Node(
            _for_campaign(campaign),
            inputs=[
                RAW_INPUT.format(source=campaign),
                f"params:ingestion.campaigns.{campaign}",
                "params:ingestion.tolerance",
                "params:ingestion.check_images",
                "params:campaign_dirs",
            ],
            outputs=[f"{campaign}_votes", f"{campaign}_dropped", f"{campaign}_ingestion_stats"],
            name=f"ingest_{campaign}",
        )
        for campaign in CAMPAIGN_SOURCES
    ]
    report_inputs = [
        name
        for campaign in CAMPAIGN_SOURCES
        for name in (f"{campaign}_ingestion_stats", f"{campaign}_dropped")
    ]
    nodes += [
        _catalog_node(ingest_unlabelled, "unlabelled", "unlabelled_images"),
        _catalog_node(ingest_downstream, "downstream", "downstream_catalog"),
        Node(
            _report,
            inputs=report_inputs,
            outputs=["ingestion_dropped", "ingestion_report"],
            name="build_ingestion_report",
        ),
    ]
    return Pipeline(nodes)
