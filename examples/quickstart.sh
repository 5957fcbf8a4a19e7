#!/usr/bin/env bash
# The README's main job: a real shell pipeline over a bundled dataset, all local (no AWS account,
# no S3 server, no Docker): prep -> submit to the local emulator with the example model -> join.
# Run it with `npm run demo` (which builds first). Everything goes under ${BTKIT_DEMO_DIR:-.btkit-demo}.
set -euo pipefail
cd "$(dirname "$0")/.."
demo="${BTKIT_DEMO_DIR:-.btkit-demo}"
rows="${BTKIT_DEMO_ROWS:-20000}"
btkit=(node "$PWD/dist/bin/btkit.js")
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

rm -rf "$demo"
mkdir -p "$demo"
node examples/make-demo-data.mjs "$demo/reviews.csv" "$rows"
start=$(date +%s)

"${btkit[@]}" prep "$demo/reviews.csv" --out "$demo/prep" --features rating,price,review --instances 2 --gzip \
  | "${btkit[@]}" submit --local --model-command "node $PWD/dist/bin/btkit.js example-model" \
      --instance-count 2 --wait --poll-seconds 1 \
  | "${btkit[@]}" join --out "$demo/joined.parquet" --format parquet \
  > "$demo/descriptor.json"

node examples/summary.mjs "$demo/descriptor.json" "$(( $(date +%s) - start ))"
