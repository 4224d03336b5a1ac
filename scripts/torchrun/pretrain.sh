#!/bin/bash
# GZ-Evo pretraining at paper scale with torchrun: run the same command on every node.
#   HEAD=node0.example.org NNODES=2 bash scripts/torchrun/pretrain.sh
# HEAD: the first node's address (rendezvous); NNODES: how many nodes; GPUS_PER_NODE: defaults
# to the GPUs nvidia-smi lists; TORCHRUN: the torchrun to use (default .venv/bin/torchrun). torchrun starts one `kedro run` per GPU (RANK, LOCAL_RANK,
# WORLD_SIZE set); only rank 0 logs to MLflow and writes outputs. Run the data stages once
# beforehand (kedro run --env paper --pipelines ingestion,gz_evo,images).
# tests/test_cluster_scripts.py runs this script with a stand-in torchrun.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${HEAD:?set HEAD to the address of the first node}"
NNODES="${NNODES:-1}"
GPUS_PER_NODE="${GPUS_PER_NODE:-$(nvidia-smi -L | wc -l)}"
export KEDRO_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1

params="pretraining.trainer.accelerator=gpu"
params+=",pretraining.trainer.devices=${GPUS_PER_NODE}"
params+=",pretraining.trainer.num_nodes=${NNODES}"
params+=",pretraining.trainer.strategy=ddp"
params+=",pretraining.trainer.precision=bf16-mixed"

"${TORCHRUN:-.venv/bin/torchrun}" --nnodes "${NNODES}" --nproc-per-node "${GPUS_PER_NODE}" \
    --rdzv-backend c10d --rdzv-endpoint "${HEAD}:29500" \
    -m kedro run --env paper --pipelines pretraining --params "${params}"
