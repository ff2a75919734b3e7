#!/usr/bin/env bash
# The GPU check of the batched seeds (fmnist_edu/batched.py), in one go, within 4 minutes:
#   1. tests/test_batched.py (its CUDA tests run there; the others train on the GPU too),
#   2. bench_batched.py's GPU figures: 5 seeds of the MLP and the CNN at batch 128, solo
#      one after the other and batched, with and without the CUDA graph, on the training
#      images repeated to 60,000; then each batched seed against its solo run on the GPU.
# Needs torch, numpy, tqdm and pytest; nothing else. Run from the repository root:
#   bash benchmarks/gpu_batched.sh
# Data: FMNIST_EDU_DATA, else _build/device-data/fashion-mnist-subset. Everything it
# prints is also written to $OUT/gpu_batched.log ($OUT defaults to /tmp/out), with the
# benchmark's figures in $OUT/bench_batched.json.
set -u
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
export FMNIST_EDU_DATA="${FMNIST_EDU_DATA:-$PWD/_build/device-data/fashion-mnist-subset}"
export FMNIST_EDU_CACHE="$OUT/store"  # a fresh results store: nothing comes from a cache
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export CUBLAS_WORKSPACE_CONFIG="${CUBLAS_WORKSPACE_CONFIG:-:4096:8}"

step() {  # step NAME SECONDS COMMAND...: run with a time limit, report the exit status
  local name=$1 limit=$2
  shift 2
  echo
  echo "=== $name (limit ${limit}s): $*"
  local start=$SECONDS
  timeout "$limit" "$@"
  echo "=== $name: exit $? after $((SECONDS - start)) s"
}

{
  echo "=== machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda,
"cuDNN", torch.backends.cudnn.version(), torch.cuda.get_device_name())'
  echo "data: $FMNIST_EDU_DATA"
  step tests 80 python -m pytest tests/test_batched.py -q -x -p no:cacheprovider -rs
  step bench 140 python benchmarks/bench_batched.py --no-cpu --json "$OUT/bench_batched.json"
} 2>&1 | tee "$OUT/gpu_batched.log"
