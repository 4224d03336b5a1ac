"""Wiring of the ``scaling`` pipeline (no torch here: ``kedro registry list`` stays light).

run the sweep (one pretraining run per point, resumable) -> the points table and one MLflow child
run per point; fit the laws -> fits and headline metrics; draw them -> figures.
"""

from kedro.pipeline import Node, Pipeline

from gz_evo.pipelines.scaling.nodes import draw_scaling_laws, fit_scaling_laws, run_scaling_sweep


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                run_scaling_sweep,
                inputs=[
                    "image_shards",
                    "gz_evo_schema",
                    "params:pretraining",
                    "params:scaling",
                    "params:images.augment",
                    "params:seed",
                ],
                outputs=["scaling_points", "scaling_points_plot", "scaling_mlflow_points"],
                name="run_scaling_sweep",
            ),
            Node(
                fit_scaling_laws,
                inputs=["scaling_points", "params:scaling", "params:seed"],
                outputs=["scaling_fits", "scaling_metrics", "scaling_mlflow_metrics"],
                name="fit_scaling_laws",
            ),
            Node(
                draw_scaling_laws,
                inputs=["scaling_points", "scaling_fits"],
                outputs="scaling_figures",
                name="draw_scaling_laws",
            ),
        ]
    )
