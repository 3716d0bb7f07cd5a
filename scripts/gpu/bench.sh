#!/usr/bin/env bash
# Runs on the GPU machine from the folder scripts/gpu/bundle.sh wrote (it also runs here, where
# it stops at the GPU check). Unpacks gaze.tar.xz, then checks that WebGPU comes up on Dawn and
# prints the adapter, or says why it did not and exits 3.
# Still to come (issue 21): the GPU benchmark itself (train steps, Grad-CAM, RISE,
# deletion/insertion at 64 px b32, ResNet-50 224 px b16 on webgpu against PyTorch CUDA, written to
# bench/results-gpu.json); and the engine must import tfjs-backend-webgpu statically so esbuild
# bundles it onto the bundle's one tfjs instance (today it is imported by name at run time).
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
