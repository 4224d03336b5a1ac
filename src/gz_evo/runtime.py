"""Facts about the running process that every layer may ask (no heavy imports here)."""

from __future__ import annotations

import os


def process_rank() -> int:
    """RANK (torchrun) or SLURM_PROCID (srun); 0 in a single process.

    Every rank of a cluster launch runs the whole ``kedro run``; only rank 0 writes outputs and
    talks to MLflow.
    """
    for variable in ("RANK", "SLURM_PROCID"):
        if os.environ.get(variable):
            return int(os.environ[variable])
    return 0
