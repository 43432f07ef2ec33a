#!/usr/bin/env bash
# How the GPU benchmarks were run through the device tool (carrying .device-carry/ built by
# ../shared/device/prepare-carry.sh plus the sentence-transformers 6.2.0 wheel):
#   bash benchmarks/gpu_run.sh train_throughput predict_throughput
# Results land in $OUT (or benchmarks/results when OUT is unset); logs next to them.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --target /tmp/site .device-carry/wheels/*.whl 2>&1 | grep -v "already exists"
data=$PWD/.device-carry/data; [ -d "$data" ] || data=$PWD/.device-carry/mini-data
export PYTHONPATH=/tmp/site:$PWD XENC_DATA=$data HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true
# pre-mined benchmark pairs, when carried, save re-mining them here
[ -d .device-carry/pairs ] && cp -r .device-carry/pairs/. "${TMPDIR:-/tmp}/"
export XENC_RESULTS_DIR=${OUT:-$PWD/benchmarks/results}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, sentence_transformers as st; print(torch.__version__, transformers.__version__, st.__version__)"
for name in "$@"; do
  args_var="ARGS_${name}"
  echo "=== $name ${!args_var:-}"
  start=$(date +%s)
  python3 "benchmarks/${name}.py" ${!args_var:-} > "$XENC_RESULTS_DIR/${name}.log" 2>&1
  echo "exit=$? seconds=$(( $(date +%s) - start ))"
  tail -n 25 "$XENC_RESULTS_DIR/${name}.log"
done
