#!/usr/bin/env bash
# Runs on the GPU machine from the folder scripts/gpu/bundle.sh wrote (it also runs here, where
# it stops at the GPU check). Unpacks gaze.tar.xz, checks that WebGPU comes up on Dawn and prints
# the adapter (or says why it did not and exits 3), then runs the GPU benchmark
# (scripts/gpu/bench-entry.ts: Gaze on webgpu against PyTorch on CUDA, same networks and weights)
# and writes its figures to $OUT/results-gpu.json (OUT: the device tool's output folder, else this
# folder). BENCH_ARGS (e.g. --quick) go to the benchmark.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
xz -dc "$here/gaze.tar.xz" | tar -C "$work" -xf -
node="$work/app/bin/node"
echo "node $("$node" --version) from the bundle"
# gaze doctor probes every backend; webgpu's entry says whether Dawn found an adapter, or why not.
report=$("$node" "$work/app/gaze.mjs" doctor --json)
webgpu=$(echo "$report" | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const b=JSON.parse(s).backends.find(x=>x.name==="webgpu");console.log(b.status+"\t"+b.detail)})')
status=${webgpu%%$'\t'*}
detail=${webgpu#*$'\t'}
if [ "$status" != "available" ]; then
  echo "WebGPU is not available here ($status): $detail"
  echo "nothing to benchmark on a GPU"
  exit 3
fi
echo "WebGPU: $detail"

# PyTorch with CUDA: the first python3 that has it.
python=""
for candidate in python3 /usr/bin/python3 /usr/local/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch, torchvision, numpy; assert torch.cuda.is_available()' 2>/dev/null; then
    python=$(command -v "$candidate")
    break
  fi
done
if [ -z "$python" ]; then
  echo "no python3 here imports torch and torchvision with CUDA: the PyTorch side cannot run" >&2
  exit 4
fi
echo "PyTorch: $("$python" -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))') ($python)"
results="${OUT:-$here}/results-gpu.json"
cd "$work/app"
GAZE_PEER_PYTHON="$python" "$node" gaze-bench.mjs --json "$results" ${BENCH_ARGS:-}
echo "GPU figures: $results"
