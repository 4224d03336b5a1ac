from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import dag, task

from kedro.framework.session import KedroSession
from kedro.framework.project import configure_project

# Kedro settings required to run your pipeline
env = "local"
pipeline_name = "__default__"
project_path = Path.cwd()
package_name = "gz_evo"
conf_source = "" or Path.cwd() / "conf"


def _run_kedro_node(node_names=None, namespaces=None):
    """Run a Kedro pipeline slice. Pass node_names for regular node groups or namespaces for namespace groups."""
    configure_project(package_name)
    with KedroSession.create(project_path=project_path, env=env, conf_source=conf_source) as session:
        if namespaces is not None:
            session.run(pipeline_names=[pipeline_name], namespaces=namespaces)
        else:
            session.run(pipeline_names=[pipeline_name], node_names=node_names)


@dag(
    dag_id="gz-evo",
    start_date=datetime(2023,1,1),
    max_active_runs=3,
    schedule="@once",
    catchup=False,
    default_args=dict(
        owner="airflow",
        depends_on_past=False,
        email_on_failure=False,
        email_on_retry=False,
        retries=1,
        retry_delay=timedelta(minutes=5)
    ),
)
def gz_evo():

    @task(task_id="build-merged-schema")
    def build_merged_schema():
        _run_kedro_node(node_names=["build_merged_schema"])

    @task(task_id="demo-sample-truth")
    def demo_sample_truth():
        _run_kedro_node(node_names=["demo_sample_truth"])

    @task(task_id="demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise")
    def demo_render_images_demo_simulate_votes_demo_package_folders_demo_summarise():
        _run_kedro_node(node_names=["demo_render_images", "demo_simulate_votes", "demo_package_folders", "demo_summarise"])

    @task(task_id="summarise-schema")
    def summarise_schema():
        _run_kedro_node(node_names=["summarise_schema"])

    @task(task_id="ingest-candels-ingest-demo-deep-ingest-dr5-ingest-dr8-ingest-gz2-build-ingestion-report")
    def ingest_candels_ingest_demo_deep_ingest_dr5_ingest_dr8_ingest_gz2_build_ingestion_report():
        _run_kedro_node(node_names=["ingest_candels", "ingest_demo_deep", "ingest_dr5", "ingest_dr8", "ingest_gz2", "build_ingestion_report"])

    @task(task_id="ingest-downstream")
    def ingest_downstream():
        _run_kedro_node(node_names=["ingest_downstream"])

    @task(task_id="ingest-unlabelled")
    def ingest_unlabelled():
        _run_kedro_node(node_names=["ingest_unlabelled"])

    @task(task_id="merge-catalogs")
    def merge_catalogs():
        _run_kedro_node(node_names=["merge_catalogs"])

    @task(task_id="summarise-catalog")
    def summarise_catalog():
        _run_kedro_node(node_names=["summarise_catalog"])

    @task(task_id="write-image-shards-accept-image-shards")
    def write_image_shards_accept_image_shards():
        _run_kedro_node(node_names=["write_image_shards", "accept_image_shards"])

    @task(task_id="hybrid-fit-model")
    def hybrid_fit_model():
        _run_kedro_node(node_names=["hybrid.fit_model"])

    @task(task_id="main-fit-model")
    def main_fit_model():
        _run_kedro_node(node_names=["main.fit_model"])

    @task(task_id="hybrid-evaluate-model")
    def hybrid_evaluate_model():
        _run_kedro_node(node_names=["hybrid.evaluate_model"])

    @task(task_id="main-evaluate-model")
    def main_evaluate_model():
        _run_kedro_node(node_names=["main.evaluate_model"])

    @task(task_id="hybrid-export-encoder")
    def hybrid_export_encoder():
        _run_kedro_node(node_names=["hybrid.export_encoder"])

    @task(task_id="main-export-encoder")
    def main_export_encoder():
        _run_kedro_node(node_names=["main.export_encoder"])

    @task(task_id="embed-downstream")
    def embed_downstream():
        _run_kedro_node(node_names=["embed_downstream"])

    @task(task_id="finetune-downstream")
    def finetune_downstream():
        _run_kedro_node(node_names=["finetune_downstream"])

    @task(task_id="probe-downstream")
    def probe_downstream():
        _run_kedro_node(node_names=["probe_downstream"])

    @task(task_id="summarise-downstream")
    def summarise_downstream():
        _run_kedro_node(node_names=["summarise_downstream"])

    tasks = {
        "build-merged-schema": build_merged_schema(),
        "demo-sample-truth": demo_sample_truth(),
        "demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise": demo_render_images_demo_simulate_votes_demo_package_folders_demo_summarise(),
        "summarise-schema": summarise_schema(),
        "ingest-candels-ingest-demo-deep-ingest-dr5-ingest-dr8-ingest-gz2-build-ingestion-report": ingest_candels_ingest_demo_deep_ingest_dr5_ingest_dr8_ingest_gz2_build_ingestion_report(),
        "ingest-downstream": ingest_downstream(),
        "ingest-unlabelled": ingest_unlabelled(),
        "merge-catalogs": merge_catalogs(),
        "summarise-catalog": summarise_catalog(),
        "write-image-shards-accept-image-shards": write_image_shards_accept_image_shards(),
        "hybrid-fit-model": hybrid_fit_model(),
        "main-fit-model": main_fit_model(),
        "hybrid-evaluate-model": hybrid_evaluate_model(),
        "main-evaluate-model": main_evaluate_model(),
        "hybrid-export-encoder": hybrid_export_encoder(),
        "main-export-encoder": main_export_encoder(),
        "embed-downstream": embed_downstream(),
        "finetune-downstream": finetune_downstream(),
        "probe-downstream": probe_downstream(),
        "summarise-downstream": summarise_downstream(),
    }
    tasks["demo-sample-truth"] >> tasks["demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise"]
    tasks["build-merged-schema"] >> tasks["summarise-schema"]
    tasks["demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise"] >> tasks["ingest-candels-ingest-demo-deep-ingest-dr5-ingest-dr8-ingest-gz2-build-ingestion-report"]
    tasks["demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise"] >> tasks["ingest-downstream"]
    tasks["demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise"] >> tasks["ingest-unlabelled"]
    tasks["build-merged-schema"] >> tasks["merge-catalogs"]
    tasks["ingest-candels-ingest-demo-deep-ingest-dr5-ingest-dr8-ingest-gz2-build-ingestion-report"] >> tasks["merge-catalogs"]
    tasks["ingest-unlabelled"] >> tasks["merge-catalogs"]
    tasks["build-merged-schema"] >> tasks["summarise-catalog"]
    tasks["merge-catalogs"] >> tasks["summarise-catalog"]
    tasks["build-merged-schema"] >> tasks["write-image-shards-accept-image-shards"]
    tasks["merge-catalogs"] >> tasks["write-image-shards-accept-image-shards"]
    tasks["build-merged-schema"] >> tasks["hybrid-fit-model"]
    tasks["ingest-downstream"] >> tasks["hybrid-fit-model"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["hybrid-fit-model"]
    tasks["build-merged-schema"] >> tasks["main-fit-model"]
    tasks["ingest-downstream"] >> tasks["main-fit-model"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["main-fit-model"]
    tasks["build-merged-schema"] >> tasks["hybrid-evaluate-model"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["hybrid-evaluate-model"]
    tasks["hybrid-fit-model"] >> tasks["hybrid-evaluate-model"]
    tasks["build-merged-schema"] >> tasks["main-evaluate-model"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["main-evaluate-model"]
    tasks["main-fit-model"] >> tasks["main-evaluate-model"]
    tasks["build-merged-schema"] >> tasks["hybrid-export-encoder"]
    tasks["hybrid-fit-model"] >> tasks["hybrid-export-encoder"]
    tasks["hybrid-evaluate-model"] >> tasks["hybrid-export-encoder"]
    tasks["build-merged-schema"] >> tasks["main-export-encoder"]
    tasks["main-fit-model"] >> tasks["main-export-encoder"]
    tasks["main-evaluate-model"] >> tasks["main-export-encoder"]
    tasks["ingest-downstream"] >> tasks["embed-downstream"]
    tasks["hybrid-export-encoder"] >> tasks["embed-downstream"]
    tasks["main-export-encoder"] >> tasks["embed-downstream"]
    tasks["ingest-downstream"] >> tasks["finetune-downstream"]
    tasks["hybrid-export-encoder"] >> tasks["finetune-downstream"]
    tasks["main-export-encoder"] >> tasks["finetune-downstream"]
    tasks["embed-downstream"] >> tasks["probe-downstream"]
    tasks["finetune-downstream"] >> tasks["summarise-downstream"]
    tasks["probe-downstream"] >> tasks["summarise-downstream"]


gz_evo()