"""Project settings: configuration loading and which plugin hooks run.

``oc.env`` is registered so that ``mlflow.yml`` can read the tracking store location from the
environment (``GZ_EVO_MLFLOW_URI``): tests and clusters relocate the store without editing files.
"""

from omegaconf.resolvers import oc

from gz_evo.hooks import InputChecksumHooks, MlflowRunTagsHooks
from gz_evo.runtime import process_rank

# Every run's log (logs/info.log, conf/logging.yml) names the input files it read, with checksums;
# every run's MLflow run gets the git commit and the pipelines run as tags, and no machine paths
# (after kedro-mlflow has started it; on rank 0 only, like kedro-mlflow's hooks below).
HOOKS = (InputChecksumHooks(), MlflowRunTagsHooks())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"oc.env": oc.env},
}

# Distributed training launched with torchrun or SLURM srun runs `kedro run` once per process:
# only rank 0 talks to MLflow, so kedro-mlflow's hooks are off on the other ranks (README,
# "Pretraining on GPU clusters"). A plain `kedro run` has no RANK and keeps them on.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",) if process_rank() > 0 else ()
