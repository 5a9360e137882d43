#!/usr/bin/env bash
# Installs the reference ThumbHash from package-lock.json into this folder and prints the test vectors
# (tests/Imagebin.Tests/Media/ThumbHashTests.cs holds them; the tests never run npm).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
node "$here/vectors.mjs"
