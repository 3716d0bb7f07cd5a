#!/usr/bin/env bash
# Packs what the GPU machine needs into OUT (default gpu-bundle/, ignored by git): it has CUDA,
# PyTorch and Vulkan but no Node and no network, and takes a working tree of at most 64 MiB.
#   OUT/gaze.tar.xz  the CLI and every package bundled by esbuild into app/gaze.mjs, the GPU
#                    benchmark into app/gaze-bench.mjs (with its PyTorch side in app/peer/), beside the
#                    packages that cannot be bundled (tfjs's wasm binaries, sharp and its libvips,
#                    the webgpu package with only its linux-x64 dawn.node) and this machine's
#                    Node binary, all xz-compressed
#   OUT/bench.sh     a copy of scripts/gpu/bench.sh, which unpacks and runs it there
# Fails when the total passes 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-gpu-bundle}
limit=$((64 * 1024 * 1024))
rm -rf "$out" && mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
app="$stage/app"
mkdir -p "$app/node_modules/@tensorflow" "$app/node_modules/@img" "$app/bin"

# tfjs's WebGPU backend is bundled (webgpu-modules.ts hands it to the engine); the webgpu package
# (Dawn's native addon) and the other native or file-reading packages stay beside the bundle.
bundle() {
  npx esbuild "$1" --bundle --platform=node --format=esm --target=node20 \
    --conditions=@gaze/source --outfile="$2" --log-level=warning \
    --external:sharp --external:webgpu --external:'*.node' --external:@tensorflow/tfjs-backend-wasm \
    --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
    --banner:js="import { createRequire as __gazeRequire } from 'node:module'; const require = __gazeRequire(import.meta.url);"
}
echo "bundling the CLI and the GPU benchmark with esbuild ..."
bundle scripts/gpu/entry.ts "$app/gaze.mjs"
bundle scripts/gpu/bench-entry.ts "$app/gaze-bench.mjs"
# The PyTorch side of the benchmark, where the bundled peer code looks for it (next to the module).
mkdir -p "$app/peer"
cp scripts/bench/peer/*.py "$app/peer/"

echo "copying the packages esbuild leaves out ..."
# tfjs's wasm backend resolves its .wasm files next to its own package.json.
cp -r node_modules/@tensorflow/tfjs-backend-wasm "$app/node_modules/@tensorflow/"
for pkg in tfjs-core tfjs-backend-cpu; do
  [ -d "node_modules/@tensorflow/$pkg" ] && cp -r "node_modules/@tensorflow/$pkg" "$app/node_modules/@tensorflow/"
done
cp -r node_modules/sharp "$app/node_modules/"
for dir in node_modules/@img/*linux-x64* node_modules/@img/colour; do [ -d "$dir" ] && cp -r "$dir" "$app/node_modules/@img/"; done
for dep in detect-libc semver; do [ -d "node_modules/$dep" ] && cp -r "node_modules/$dep" "$app/node_modules/"; done
mkdir -p "$app/node_modules/webgpu/dist/linux-x64"
cp node_modules/webgpu/package.json "$app/node_modules/webgpu/"
cp -r node_modules/webgpu/dist/linux-x64 "$app/node_modules/webgpu/dist/"
find node_modules/webgpu/dist -maxdepth 1 -type f -exec cp {} "$app/node_modules/webgpu/dist/" \;
[ -d node_modules/webgpu/build ] && cp -r node_modules/webgpu/build "$app/node_modules/webgpu/"
cp "$(command -v node)" "$app/bin/node"
# The CLI reads its version from ../package.json next to its module.
cp packages/cli/package.json "$stage/package.json"

echo "compressing ..."
tar -C "$stage" -cf - app package.json | xz -T0 -6 > "$out/gaze.tar.xz"
cp scripts/gpu/bench.sh "$out/bench.sh"
size=$(du -cb "$out"/* | tail -1 | cut -f1)
printf 'gpu bundle: %s (%.1f MiB of the 64 MiB limit)\n' "$out" "$(echo "$size / 1048576" | bc -l)"
if [ "$size" -gt "$limit" ]; then
  echo "error: the bundle is $size bytes, over the 64 MiB the GPU machine takes" >&2
  exit 1
fi
