"""Wiring of the ``pretraining`` pipeline (no torch here: ``kedro registry list`` stays light).

One template, fit -> ``pretraining_checkpoint`` -> evaluate (predictions, metrics) and export
(encoder), instantiated once per encoder as a Kedro namespace: ``main`` trains ``pretraining`` as
it is, under the catalog's plain names (``pretrained_encoder``, ...); each variant in
``pretraining_variants`` trains ``pretraining`` with its changes, under ``<variant>.`` names.
``kedro run --pipelines pretraining --namespaces hybrid`` runs one encoder alone.
"""

from kedro.pipeline import Node, Pipeline, pipeline

from gz_evo.pipelines.pretraining.nodes import evaluate_model, export_encoder, fit_model

#: encoders trained beside the main one; each has ``pretraining_variants.<name>`` in
#: parameters_pretraining.yml, catalog entries ``<name>.*`` and a DVC stage pretraining_<name>
VARIANTS: tuple[str, ...] = ("hybrid",)

MAIN = "main"

#: what the template reads and writes (namespaced per encoder, except for the main one)
OUTPUTS = (
    "pretraining_checkpoint",
    "pretraining_test_predictions",
    "pretraining_metrics",
    "pretraining_mlflow_metrics",
    "pretraining_history",
    "pretraining_history_plot",
    "pretrained_encoder",
)
SHARED_INPUTS = ("image_shards", "downstream_catalog", "gz_evo_schema")
SHARED_PARAMETERS = ("params:pretraining", "params:images.augment", "params:seed")


def template(changes: str | None = None) -> Pipeline:
    """fit -> evaluate, export; ``changes``: a parameter with the variant's changes, or None."""
    config = ["gz_evo_schema", "params:pretraining", "params:images.augment", "params:seed"]
    config += [changes] if changes else []
    return Pipeline(
        [
            Node(
                fit_model,
                inputs=["image_shards", "downstream_catalog", *config],
                outputs="pretraining_checkpoint",
                name="fit_model",
            ),
            Node(
                evaluate_model,
                inputs=["pretraining_checkpoint", "image_shards", *config],
                outputs=[
                    "pretraining_test_predictions",
                    "pretraining_metrics",
                    "pretraining_mlflow_metrics",
                    "pretraining_history",
                    "pretraining_history_plot",
                ],
                name="evaluate_model",
            ),
            Node(
                export_encoder,
                inputs=["pretraining_checkpoint", "pretraining_metrics", *config],
                outputs="pretrained_encoder",
                name="export_encoder",
            ),
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    main = pipeline(
        template(),
        namespace=MAIN,
        inputs=set(SHARED_INPUTS),
        outputs={name: name for name in OUTPUTS},
        parameters=set(SHARED_PARAMETERS),
    )
    variants = [
        pipeline(
            template(f"params:pretraining_variants.{name}"),
            namespace=name,
            inputs=set(SHARED_INPUTS),
            parameters={*SHARED_PARAMETERS, f"params:pretraining_variants.{name}"},
        )
        for name in VARIANTS
    ]
    return sum(variants, main)
