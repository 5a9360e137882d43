#!/usr/bin/env bash
# Validates an OpenAPI document (default: the one the tests wrote) as OpenAPI 3.1 with @seriousme/openapi-schema-validator,
# installed from package-lock.json into this folder. Exits non-zero when the document is missing or invalid.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
document="${1:?usage: check.sh <openapi.json>}"
if [[ ! -s "$document" ]]; then
  echo "FAIL: $document is missing or empty (the OpenAPI tests write it when IMAGEBIN_OPENAPI_OUT is set)" >&2
  exit 1
fi

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
node "$here/check.mjs" "$document"
