"""Wiring of the ``ingestion`` pipeline: one node per raw source, one report, one write.

The sources are ``gz_evo.sources.CAMPAIGN_SOURCES`` (each read from its raw entry ``raw_<name>``
with parameters ``ingestion.campaigns.<name>``, written to ``<name>_votes``) and the image
catalogs ``unlabelled`` and ``downstream``. The raw entries are the demo pipeline's output
folders by default, so that ``kedro run`` renders the demo universe first; real downloads
redefine them.

All-or-nothing: the source nodes and the report write to in-memory ``<output>_checked``
datasets, and ``publish_ingestion`` (which needs all of them) alone writes the stage's outputs,
so one failing source writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.ingestion.nodes import (
    build_ingestion_report,
    ingest_campaign,
    ingest_downstream,
    ingest_unlabelled,
    publish_ingestion,
)
from gz_evo.sources import CAMPAIGN_SOURCES, raw_entry, votes_entry


def _for_campaign(campaign: str):
    function = partial(ingest_campaign, campaign=campaign)
    update_wrapper(function, ingest_campaign)
    return function


def checked(output: str) -> str:
    """The in-memory dataset holding an output until every source has passed its checks."""
    return f"{output}_checked"


def _report() -> tuple[partial, dict[str, str]]:
    """The report node's function and its inputs, by keyword: no campaign relies on position.

    Each campaign source gives ``<campaign>_stats`` and ``<campaign>_dropped``; the report lists
    the campaigns in ``CAMPAIGN_SOURCES`` order whatever the order of these inputs.
    """
    function = partial(build_ingestion_report, CAMPAIGN_SOURCES)
    update_wrapper(function, build_ingestion_report)
    inputs = {}
    for campaign in CAMPAIGN_SOURCES:
        inputs[f"{campaign}_stats"] = f"{campaign}_ingestion_stats"
        inputs[f"{campaign}_dropped"] = f"{campaign}_dropped"
    return function, inputs


def _catalog_node(function: Callable, source: str, output: str) -> Node:
    """The node reading the image catalog ``source`` (``unlabelled``, ``downstream``)."""
    return Node(
        function,
        inputs=[
            raw_entry(source),
            f"params:ingestion.{source}",
            "params:ingestion.check_images",
            "params:ingestion.max_memory_gb",
        ],
        outputs=checked(output),
        name=f"ingest_{source}",
    )


def create_pipeline(**kwargs) -> Pipeline:
    nodes = [
        Node(
            _for_campaign(campaign),
            inputs=[
                raw_entry(campaign),
                f"params:ingestion.campaigns.{campaign}",
                "params:ingestion.tolerance",
                "params:ingestion.check_images",
                "params:campaign_dirs",
                "params:ingestion.max_memory_gb",
            ],
            outputs=[
                checked(votes_entry(campaign)),
                f"{campaign}_dropped",
                f"{campaign}_ingestion_stats",
            ],
            name=f"ingest_{campaign}",
        )
        for campaign in CAMPAIGN_SOURCES
    ]
    report, report_inputs = _report()
    nodes += [
        _catalog_node(ingest_unlabelled, "unlabelled", "unlabelled_images"),
        _catalog_node(ingest_downstream, "downstream", "downstream_catalog"),
        Node(
            report,
            inputs=report_inputs,
            outputs=[checked("ingestion_dropped"), checked("ingestion_report")],
            name="build_ingestion_report",
        ),
    ]
    outputs = [
        *(votes_entry(campaign) for campaign in CAMPAIGN_SOURCES),
        "unlabelled_images",
        "downstream_catalog",
        "ingestion_dropped",
        "ingestion_report",
    ]
    nodes.append(
        Node(
            publish_ingestion,
            inputs={output: checked(output) for output in outputs},
            outputs={output: output for output in outputs},
            name="publish_ingestion",
        )
    )
    return Pipeline(nodes)
