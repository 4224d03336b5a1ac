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

    @task(task_id="ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion")
    def ingest_candels_ingest_demo_deep_ingest_downstream_ingest_dr5_ingest_dr8_ingest_gz2_ingest_unlabelled_build_ingestion_report_publish_ingestion():
        _run_kedro_node(node_names=["ingest_candels", "ingest_demo_deep", "ingest_downstream", "ingest_dr5", "ingest_dr8", "ingest_gz2", "ingest_unlabelled", "build_ingestion_report", "publish_ingestion"])

    @task(task_id="merge-catalogs")
    def merge_catalogs():
        _run_kedro_node(node_names=["merge_catalogs"])

    @task(task_id="summarise-catalog")
    def summarise_catalog():
        _run_kedro_node(node_names=["summarise_catalog"])

    @task(task_id="write-image-shards-accept-image-shards")
    def write_image_shards_accept_image_shards():
        _run_kedro_node(node_names=["write_image_shards", "accept_image_shards"])

    @task(task_id="report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report")
    def report_composition_report_calibration_report_examples_report_pretraining_report_scaling_report_downstream_render_report():
        _run_kedro_node(node_names=["report_composition", "report_calibration", "report_examples", "report_pretraining", "report_scaling", "report_downstream", "render_report"])

    @task(task_id="hybrid-fit-model")
    def hybrid_fit_model():
        _run_kedro_node(node_names=["hybrid.fit_model"])

    @task(task_id="main-fit-model")
    def main_fit_model():
        _run_kedro_node(node_names=["main.fit_model"])

    @task(task_id="run-scaling-sweep")
    def run_scaling_sweep():
        _run_kedro_node(node_names=["run_scaling_sweep"])

    @task(task_id="fit-scaling-laws")
    def fit_scaling_laws():
        _run_kedro_node(node_names=["fit_scaling_laws"])

    @task(task_id="hybrid-evaluate-model")
    def hybrid_evaluate_model():
        _run_kedro_node(node_names=["hybrid.evaluate_model"])

    @task(task_id="main-evaluate-model")
    def main_evaluate_model():
        _run_kedro_node(node_names=["main.evaluate_model"])

    @task(task_id="draw-scaling-laws")
    def draw_scaling_laws():
        _run_kedro_node(node_names=["draw_scaling_laws"])

    @task(task_id="hybrid-export-encoder")
    def hybrid_export_encoder():
        _run_kedro_node(node_names=["hybrid.export_encoder"])

    @task(task_id="main-export-encoder")
    def main_export_encoder():
        _run_kedro_node(node_names=["main.export_encoder"])

    @task(task_id="embed-active-learning-pool-ask-active-learning-volunteers-run-active-learning")
    def embed_active_learning_pool_ask_active_learning_volunteers_run_active_learning():
        _run_kedro_node(node_names=["embed_active_learning_pool", "ask_active_learning_volunteers", "run_active_learning"])

    @task(task_id="embed-downstream")
    def embed_downstream():
        _run_kedro_node(node_names=["embed_downstream"])

    @task(task_id="embed-similarity-catalog")
    def embed_similarity_catalog():
        _run_kedro_node(node_names=["embed_similarity_catalog"])

    @task(task_id="finetune-downstream")
    def finetune_downstream():
        _run_kedro_node(node_names=["finetune_downstream"])

    @task(task_id="predict-galaxies")
    def predict_galaxies():
        _run_kedro_node(node_names=["predict_galaxies"])

    @task(task_id="draw-prediction-gallery")
    def draw_prediction_gallery():
        _run_kedro_node(node_names=["draw_prediction_gallery"])

    @task(task_id="probe-downstream")
    def probe_downstream():
        _run_kedro_node(node_names=["probe_downstream"])

    @task(task_id="reduce-similarity-features")
    def reduce_similarity_features():
        _run_kedro_node(node_names=["reduce_similarity_features"])

    @task(task_id="score-similarity-truth")
    def score_similarity_truth():
        _run_kedro_node(node_names=["score_similarity_truth"])

    @task(task_id="build-similarity-index")
    def build_similarity_index():
        _run_kedro_node(node_names=["build_similarity_index"])

    @task(task_id="rank-anomalies")
    def rank_anomalies():
        _run_kedro_node(node_names=["rank_anomalies"])

    @task(task_id="simulate-expert-rounds")
    def simulate_expert_rounds():
        _run_kedro_node(node_names=["simulate_expert_rounds"])

    @task(task_id="summarise-downstream")
    def summarise_downstream():
        _run_kedro_node(node_names=["summarise_downstream"])

    @task(task_id="find-similar-galaxies")
    def find_similar_galaxies():
        _run_kedro_node(node_names=["find_similar_galaxies"])

    @task(task_id="summarise-active-learning")
    def summarise_active_learning():
        _run_kedro_node(node_names=["summarise_active_learning"])

    tasks = {
        "build-merged-schema": build_merged_schema(),
        "demo-sample-truth": demo_sample_truth(),
        "demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise": demo_render_images_demo_simulate_votes_demo_package_folders_demo_summarise(),
        "summarise-schema": summarise_schema(),
        "ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion": ingest_candels_ingest_demo_deep_ingest_downstream_ingest_dr5_ingest_dr8_ingest_gz2_ingest_unlabelled_build_ingestion_report_publish_ingestion(),
        "merge-catalogs": merge_catalogs(),
        "summarise-catalog": summarise_catalog(),
        "write-image-shards-accept-image-shards": write_image_shards_accept_image_shards(),
        "report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report": report_composition_report_calibration_report_examples_report_pretraining_report_scaling_report_downstream_render_report(),
        "hybrid-fit-model": hybrid_fit_model(),
        "main-fit-model": main_fit_model(),
        "run-scaling-sweep": run_scaling_sweep(),
        "fit-scaling-laws": fit_scaling_laws(),
        "hybrid-evaluate-model": hybrid_evaluate_model(),
        "main-evaluate-model": main_evaluate_model(),
        "draw-scaling-laws": draw_scaling_laws(),
        "hybrid-export-encoder": hybrid_export_encoder(),
        "main-export-encoder": main_export_encoder(),
        "embed-active-learning-pool-ask-active-learning-volunteers-run-active-learning": embed_active_learning_pool_ask_active_learning_volunteers_run_active_learning(),
        "embed-downstream": embed_downstream(),
        "embed-similarity-catalog": embed_similarity_catalog(),
        "finetune-downstream": finetune_downstream(),
        "predict-galaxies": predict_galaxies(),
        "draw-prediction-gallery": draw_prediction_gallery(),
        "probe-downstream": probe_downstream(),
        "reduce-similarity-features": reduce_similarity_features(),
        "score-similarity-truth": score_similarity_truth(),
        "build-similarity-index": build_similarity_index(),
        "rank-anomalies": rank_anomalies(),
        "simulate-expert-rounds": simulate_expert_rounds(),
        "summarise-downstream": summarise_downstream(),
        "find-similar-galaxies": find_similar_galaxies(),
        "summarise-active-learning": summarise_active_learning(),
    }
    tasks["demo-sample-truth"] >> tasks["demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise"]
    tasks["build-merged-schema"] >> tasks["summarise-schema"]
    tasks["demo-render-images-demo-simulate-votes-demo-package-folders-demo-summarise"] >> tasks["ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion"]
    tasks["build-merged-schema"] >> tasks["merge-catalogs"]
    tasks["ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion"] >> tasks["merge-catalogs"]
    tasks["build-merged-schema"] >> tasks["summarise-catalog"]
    tasks["merge-catalogs"] >> tasks["summarise-catalog"]
    tasks["build-merged-schema"] >> tasks["write-image-shards-accept-image-shards"]
    tasks["merge-catalogs"] >> tasks["write-image-shards-accept-image-shards"]
    tasks["summarise-catalog"] >> tasks["report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report"]
    tasks["run-scaling-sweep"] >> tasks["report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report"]
    tasks["fit-scaling-laws"] >> tasks["report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report"]
    tasks["hybrid-evaluate-model"] >> tasks["report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report"]
    tasks["main-evaluate-model"] >> tasks["report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report"]
    tasks["draw-scaling-laws"] >> tasks["report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report"]
    tasks["summarise-downstream"] >> tasks["report-composition-report-calibration-report-examples-report-pretraining-report-scaling-report-downstream-render-report"]
    tasks["build-merged-schema"] >> tasks["hybrid-fit-model"]
    tasks["ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion"] >> tasks["hybrid-fit-model"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["hybrid-fit-model"]
    tasks["build-merged-schema"] >> tasks["main-fit-model"]
    tasks["ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion"] >> tasks["main-fit-model"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["main-fit-model"]
    tasks["build-merged-schema"] >> tasks["run-scaling-sweep"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["run-scaling-sweep"]
    tasks["run-scaling-sweep"] >> tasks["fit-scaling-laws"]
    tasks["build-merged-schema"] >> tasks["hybrid-evaluate-model"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["hybrid-evaluate-model"]
    tasks["hybrid-fit-model"] >> tasks["hybrid-evaluate-model"]
    tasks["build-merged-schema"] >> tasks["main-evaluate-model"]
    tasks["write-image-shards-accept-image-shards"] >> tasks["main-evaluate-model"]
    tasks["main-fit-model"] >> tasks["main-evaluate-model"]
    tasks["run-scaling-sweep"] >> tasks["draw-scaling-laws"]
    tasks["fit-scaling-laws"] >> tasks["draw-scaling-laws"]
    tasks["build-merged-schema"] >> tasks["hybrid-export-encoder"]
    tasks["hybrid-fit-model"] >> tasks["hybrid-export-encoder"]
    tasks["hybrid-evaluate-model"] >> tasks["hybrid-export-encoder"]
    tasks["build-merged-schema"] >> tasks["main-export-encoder"]
    tasks["main-fit-model"] >> tasks["main-export-encoder"]
    tasks["main-evaluate-model"] >> tasks["main-export-encoder"]
    tasks["demo-sample-truth"] >> tasks["embed-active-learning-pool-ask-active-learning-volunteers-run-active-learning"]
    tasks["ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion"] >> tasks["embed-active-learning-pool-ask-active-learning-volunteers-run-active-learning"]
    tasks["main-export-encoder"] >> tasks["embed-active-learning-pool-ask-active-learning-volunteers-run-active-learning"]
    tasks["ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion"] >> tasks["embed-downstream"]
    tasks["hybrid-export-encoder"] >> tasks["embed-downstream"]
    tasks["main-export-encoder"] >> tasks["embed-downstream"]
    tasks["main-export-encoder"] >> tasks["embed-similarity-catalog"]
    tasks["ingest-candels-ingest-demo-deep-ingest-downstream-ingest-dr5-ingest-dr8-ingest-gz2-ingest-unlabelled-build-ingestion-report-publish-ingestion"] >> tasks["finetune-downstream"]
    tasks["hybrid-export-encoder"] >> tasks["finetune-downstream"]
    tasks["main-export-encoder"] >> tasks["finetune-downstream"]
    tasks["main-export-encoder"] >> tasks["predict-galaxies"]
    tasks["main-export-encoder"] >> tasks["draw-prediction-gallery"]
    tasks["predict-galaxies"] >> tasks["draw-prediction-gallery"]
    tasks["embed-downstream"] >> tasks["probe-downstream"]
    tasks["embed-similarity-catalog"] >> tasks["reduce-similarity-features"]
    tasks["embed-similarity-catalog"] >> tasks["score-similarity-truth"]
    tasks["reduce-similarity-features"] >> tasks["build-similarity-index"]
    tasks["reduce-similarity-features"] >> tasks["rank-anomalies"]
    tasks["reduce-similarity-features"] >> tasks["simulate-expert-rounds"]
    tasks["finetune-downstream"] >> tasks["summarise-downstream"]
    tasks["probe-downstream"] >> tasks["summarise-downstream"]
    tasks["main-export-encoder"] >> tasks["find-similar-galaxies"]
    tasks["reduce-similarity-features"] >> tasks["find-similar-galaxies"]
    tasks["build-similarity-index"] >> tasks["find-similar-galaxies"]
    tasks["embed-active-learning-pool-ask-active-learning-volunteers-run-active-learning"] >> tasks["summarise-active-learning"]


gz_evo()