"""Put a ``kedro run``'s outputs into DVC's cache where they match ``dvc.lock`` (``make run``).

``kedro run`` writes the same files as ``dvc repro``, but not into DVC's cache, so ``dvc status``
would call every output "not in cache" even when its bytes are exactly the committed ones. For
each stage whose only difference from ``dvc.lock`` is that, this runs ``dvc commit`` on the stage:
the outputs are copied into the cache and ``dvc.lock`` keeps its hashes. A stage with any real
difference (changed code, parameters or inputs; outputs with other bytes) is left alone, so that
``dvc status`` and ``dvc repro`` still show and redo it.

    python -m gz_evo.dvc_cache        # in the project folder
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def stage_verdict(stage) -> str:
    """``'current'``, ``'uncached'`` (outputs have dvc.lock's bytes but are not in the cache) or
    ``'different'`` (command, dependencies or output bytes differ from dvc.lock).

    Not ``dvc status``'s words: it says "not in cache" before it compares bytes, so an output
    with other bytes and no cache entry (a fresh clone) reads as merely uncached there.
    """
    if stage.changed_stage() or stage.changed_deps():
        return "different"
    if any(out.workspace_status() for out in stage.outs):
        return "different"
    if any(out.use_cache and out.changed_cache() for out in stage.outs):
        return "uncached"
    return "current"


def cache_matching_outputs(root: str | Path = ".") -> tuple[list[str], list[str]]:
    """Commit the stages that differ from ``dvc.lock`` only by being uncached.

    Returns (stages cached now, stages that really differ), in ``dvc.yaml`` order.
    """
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        with repo.lock:
            verdicts = [(stage, stage_verdict(stage)) for stage in repo.index.stages if stage.cmd]
        for stage, verdict in verdicts:
            if verdict == "uncached":  # force: no prompt; the hashes are dvc.lock's already
                repo.commit(stage.addressing, force=True)
    return (
        [stage.name for stage, verdict in verdicts if verdict == "uncached"],
        [stage.name for stage, verdict in verdicts if verdict == "different"],
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cached, different = cache_matching_outputs()
    logger.info("dvc: outputs of %d stage(s) cached, as in dvc.lock: %s", len(cached), cached)
    if different:
        logger.info("dvc: %d stage(s) differ from dvc.lock: %s", len(different), different)
    return 0


if __name__ == "__main__":
    sys.exit(main())
