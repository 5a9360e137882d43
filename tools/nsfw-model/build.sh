#!/usr/bin/env bash
# Converts the pinned nsfwjs model to ONNX and prints the file's sha256 (see docs/moderation-model.md).
# Needs `npm ci` in this directory first (check.sh does it). Deterministic: every run writes the same bytes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
model="$repo/src/Imagebin/Features/Moderation/Models/nsfw-mobilenetv2.onnx"
mkdir -p "$(dirname "$model")"
node "$here/convert.mjs" "${1:-$model}"
