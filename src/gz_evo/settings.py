"""Project settings: configuration loading and which plugin hooks run.

``oc.env`` is registered so that ``mlflow.yml`` can read the tracking store location from the
environment (``GZ_EVO_MLFLOW_URI``): tests and clusters relocate the store without editing files.
"""

from omegaconf.resolvers import oc

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"oc.env": oc.env},
}
