#!/usr/bin/env bash
# A smoke run on the `node` first on PATH: CI runs it on Node 22 and 26 fetched from the registry
# (`npx -y -p node@22 -- bash scripts/node-smoke.sh`), where the whole suite runs on the machine's
# Node and on Node 24. Build, the CLI's --help, one quick training, and predictions with the run and
# with the model shipped in the package.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "node-smoke: node $(node --version)"
work=$(mktemp -d "${TMPDIR:-/tmp}/mnist-cnn-node-smoke-XXXXXX")
trap 'rm -rf "$work"' EXIT
npm run build --silent >/dev/null
node bin/mnist-cnn.js --help >/dev/null
node bin/mnist-cnn.js train --preset smoke --out "$work/run" --quiet
for model in "$work/run" default; do
  answer=$(node bin/mnist-cnn.js predict --model "$model" test/fixtures/printed-7.png --format json)
  echo "node-smoke: $model: $answer"
done
echo "$answer" | grep -q '"digit":7' || { echo "node-smoke: the shipped model did not read the printed 7" >&2; exit 1; }
echo "node-smoke: passed on node $(node --version)"
