#!/usr/bin/env bash
# The GPU check of the training loop, in one go, within 5 minutes on one GPU:
#   1. the training, experiment and transform tests (the CUDA-only ones run there),
#   2. determinism: two identical runs, and graph vs plain loop, bit for bit on CUDA,
#   3. the benchmark's GPU figures (MLP and CNN img/s at batch 128, with and without
#      the CUDA graph),
#   4. a torch.profiler table of a few CNN training steps (top 15 ops by GPU time).
# Needs torch, numpy, tqdm and pytest; nothing else. Run from the repository root:
#   bash benchmarks/gpu_check.sh
# Data: FMNIST_EDU_DATA, else _build/device-data/fashion-mnist-subset. Everything it
# prints is also written to $OUT/gpu_check.log ($OUT defaults to /tmp/out), with the
# benchmark's figures in $OUT/bench.json.
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
  step tests 140 python -m pytest tests/test_training.py tests/test_training_speed.py \
    tests/test_experiments.py tests/test_transforms.py -q -x -p no:cacheprovider
  step determinism 35 python benchmarks/determinism.py --device cuda
  step bench 70 python benchmarks/bench_training.py --no-cpu --epochs 3 --json "$OUT/bench.json"
  step profile 30 python benchmarks/bench_training.py --profile cuda
} 2>&1 | tee "$OUT/gpu_check.log"
