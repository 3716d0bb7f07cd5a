#!/usr/bin/env bash
# Gaze as a user installs it: packs the public packages, installs the tarballs into an empty
# folder outside the checkout, and runs there what README.md and examples/README.md promise,
# against the built JavaScript (no tsx, no source condition, no workspace links):
#   npm run test:packed          (CI runs it after npm test)
# Keeps the folder when a step fails (its path is printed) so the failure can be looked at.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/gaze-packed-XXXXXX")"
step() { echo "== $*"; }
trap 'echo "test-packed: failed; the install is in $work"' ERR

step "pack the public packages"
node "$repo/scripts/pack-packages.mjs" --out "$work/tarballs"

step "npm install the tarballs into $work/app"
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
# npm 11 runs a dependency's install script only when package.json approves it (allowScripts,
# keyed by the spec it was installed from): the oneDNN addon builds at install.
native="$(ls "$work"/tarballs/gaze-native-*.tgz)"
node -e 'const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json")); p.allowScripts = { "@gaze/native": true, [`file:${process.argv[1]}`]: true }; fs.writeFileSync("package.json", JSON.stringify(p, null, 2));' "$native"
npm install --no-audit --no-fund "$work"/tarballs/*.tgz
cp -r "$repo/configs" "$repo/examples" .
# Nothing may resolve back into the checkout.
if grep -rl --include=package.json "$repo" node_modules/@gaze >/dev/null; then
  echo "an installed @gaze package points into $repo"; exit 1
fi

step "npx gaze --help"
npx gaze --help | head -3

step "npx gaze run configs/quickstart.yaml --set train.epochs=1"
npx gaze run configs/quickstart.yaml --set train.epochs=1 | tee run.log
grep -q 'backend wasm: convolutions on ' run.log
for f in metrics.csv report.html checkpoints/classifier/model.json; do
  [ -f "runs/quickstart/latest/$f" ] || { echo "the quickstart run left no $f"; exit 1; }
done

step "examples/run-config.mjs (saveMaps: npy)"
node examples/run-config.mjs
run=runs/example-run/latest
/usr/bin/python3 - "$run/maps/gradcam/maps.npy" <<'PY' || { echo "numpy could not read the run's maps.npy"; exit 1; }
import os, sys
try:
    import numpy as np
except ImportError:
    # CI installs python3-torch, which brings numpy: there it must be present.
    if os.environ.get("CI") == "true":
        raise
    print("numpy is not installed (apt-get install python3-numpy): maps.npy not checked")
    sys.exit(0)
maps = np.load(sys.argv[1])
assert maps.dtype == np.float32 and maps.shape == (32, 32, 32), (maps.dtype, maps.shape)
print(f"numpy reads {sys.argv[1]}: {maps.dtype} {maps.shape}")
PY

step "examples/explain-images.mjs"
node examples/explain-images.mjs "$run/checkpoints/classifier" examples/images --out explained
[ "$(ls explained/overlays | wc -l)" -eq 6 ] && [ -f explained/maps.npy ]

step "examples/compare-methods.mjs"
node examples/compare-methods.mjs "$run/checkpoints/classifier" examples/images

step "the README's library script"
sed -n '/<!-- library-script -->/,/<!-- \/library-script -->/p' "$repo/README.md" | sed '1,2d;$d' | sed '$d' > script.mjs
cat script.mjs
node script.mjs
[ -f maps/maps.npy ] && [ -f maps/index.csv ]

rm -rf "$work"
echo "test-packed: ok"
