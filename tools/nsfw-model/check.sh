#!/usr/bin/env bash
# Reproducibility check for the shipped NSFW model and the reference outputs the C# tests compare against:
#   1. npm ci (the exact packages of package-lock.json),
#   2. converts the model again and compares it byte for byte with the committed .onnx (and its sha256 with the C# constant),
#   3. runs nsfwjs itself (tfjs WASM backend) on the reference inputs and compares with the committed JSON.
# Exits non-zero on any difference. Needs Node and the npm registry; no Python, no other network.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
model="$repo/src/Imagebin/Features/Moderation/Models/nsfw-mobilenetv2.onnx"
reference="$repo/tests/Imagebin.Tests/TestData/nsfw/reference-outputs.json"
classifier="$repo/src/Imagebin/Features/Moderation/NsfwClassifier.cs"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

"$here/build.sh" "$work/model.onnx" >/dev/null
rebuilt="$(sha256sum "$work/model.onnx" | cut -d' ' -f1)"
committed="$(sha256sum "$model" | cut -d' ' -f1)"
pinned="$(sed -n 's/.*ModelSha256 = "\([0-9a-f]*\)".*/\1/p' "$classifier")"
echo "rebuilt   $rebuilt"
echo "committed $committed"
echo "pinned    $pinned (NsfwClassifier.ModelSha256)"
if [[ "$rebuilt" != "$committed" || "$committed" != "$pinned" ]]; then
  echo "FAIL: the model does not rebuild to the committed, pinned file" >&2
  exit 1
fi

node "$here/reference.mjs" "$work/reference-outputs.json" 2>/dev/null
if ! diff -u "$reference" "$work/reference-outputs.json"; then
  echo "FAIL: nsfwjs's outputs differ from $reference" >&2
  exit 1
fi
echo "OK: model and reference outputs reproduce ($((SECONDS - start)) s)"
