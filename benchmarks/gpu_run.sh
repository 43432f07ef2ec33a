#!/usr/bin/env bash
# How the GPU benchmarks run through the device tool, carrying what ../shared/device/prepare-carry.sh
# builds in .device-carry/ (wheels incl. sentence-transformers 6.2.0, fp16 MiniLM, data, pre-mined pairs), plus
# tokenizers 0.23.3 (the image's 0.23.2 fails PairTokenizer's truncation probe, which makes scoring slower):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
#       -d .device-carry/wheels tokenizers==0.23.3
#   bash benchmarks/gpu_run.sh train_throughput predict_throughput
# Two lanes on a 2-GPU machine:
#   CUDA_VISIBLE_DEVICES=0 bash benchmarks/gpu_run.sh a b & CUDA_VISIBLE_DEVICES=1 bash benchmarks/gpu_run.sh c; wait
# Results land in $XENC_RESULTS_DIR (default $OUT, else benchmarks/results); a log per benchmark next to them.
# Per-benchmark arguments come from ARGS_<name> variables.
set -uo pipefail
(
  flock 9
  if [ ! -e /tmp/site/.installed ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .device-carry/wheels/*.whl 2>&1 | grep -v "already exists"
    touch /tmp/site/.installed
  fi
) 9>/tmp/xenc-install.lock
data=$PWD/.device-carry/data; [ -d "$data" ] || data=$PWD/.device-carry/mini-data
export PYTHONPATH=/tmp/site:$PWD XENC_DATA=$data HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true NCCL_NVLS_ENABLE=0
# pre-mined benchmark pairs, when carried, save re-mining them here
[ -d .device-carry/pairs ] && cp -rn .device-carry/pairs/. "${TMPDIR:-/tmp}/" 2>/dev/null
export XENC_RESULTS_DIR=${XENC_RESULTS_DIR:-${OUT:-$PWD/benchmarks/results}}
mkdir -p "$XENC_RESULTS_DIR"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, sentence_transformers as st; print(torch.__version__, transformers.__version__, st.__version__)"
for name in "$@"; do
  args_var="ARGS_${name}"
  echo "=== $name ${!args_var:-} (CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-all})"
  start=$(date +%s)
  python3 "benchmarks/${name}.py" ${!args_var:-} > "$XENC_RESULTS_DIR/${name}.log" 2>&1
  echo "exit=$? seconds=$(( $(date +%s) - start ))"
  tail -n 25 "$XENC_RESULTS_DIR/${name}.log"
done
