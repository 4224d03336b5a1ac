"""Wiring of the ``demo`` pipeline: one output folder per ``gz_evo.sources.DEMO_FOLDERS`` name."""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.demo.nodes import (
    package_folders,
    render_images,
    sample_truth,
    simulate_votes,
    summarise,
)
from gz_evo.sources import DEMO_FOLDERS, raw_entry


def create_pipeline(**kwargs) -> Pipeline:
    package = partial(package_folders, list(DEMO_FOLDERS))
    update_wrapper(package, package_folders)
    return Pipeline(
        [
            Node(
                sample_truth,
                inputs=["params:demo", "params:seed"],
                outputs="demo_truth",
                name="demo_sample_truth",
            ),
            Node(
                render_images,
                inputs=["demo_truth", "params:demo", "params:seed"],
                outputs="demo_images",
                name="demo_render_images",
            ),
            Node(
                simulate_votes,
                inputs=["demo_truth", "params:demo", "params:campaign_dirs", "params:seed"],
                outputs="demo_counts",
                name="demo_simulate_votes",
            ),
            Node(
                package,
                inputs=[
                    "demo_truth",
                    "demo_images",
                    "demo_counts",
                    "params:demo",
                    "params:campaign_dirs",
                    "params:seed",
                ],
                outputs={folder: raw_entry(folder) for folder in DEMO_FOLDERS},
                name="demo_package_folders",
            ),
            Node(
                summarise,
                inputs=["demo_truth", "demo_counts"],
                outputs=["demo_summary", "demo_mlflow_metrics"],
                name="demo_summarise",
            ),
        ]
    )
