#!/usr/bin/env bash
# The test command of the README: installs what is missing, runs every test project, and ends with the line
# "N passed, N failed" that CI reads. Exits non-zero when anything fails or no test ran.
#
# The .NET SDK (pinned by global.json) is the one prerequisite; SQLite and libvips come as NuGet packages, Chromium for
# the browser tests from Debian (apt-get, when /usr/bin/chromium is missing). The services
# the scale-out and moderation suites need, PostgreSQL 15, a single-node Ceph RGW (S3) and ClamAV's clamd (with the test
# signatures of tests/clamav/), are installed with apt-get when missing and started by tests/services.sh on free loopback
# ports in a temp directory, and stopped again on exit. Nothing is skipped: a test without its services fails.
set -euo pipefail
cd "$(dirname "$0")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The browser tests drive Debian's Chromium (/usr/bin/chromium); Playwright must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

if ! command -v dotnet >/dev/null 2>&1; then
  echo "test.sh: the .NET SDK $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' global.json | head -1) is required (https://dot.net)." >&2
  exit 1
fi

results=$(mktemp -d)
services=$(mktemp -d /tmp/imagebin-services.XXXXXX)
cleanup() {
  tests/services.sh stop "$services" || true
  rm -rf "$results" "$services"
}
trap cleanup EXIT

# Debian's Chromium for tests/Imagebin.Tests/Browser (Playwright drives it headless); the package lists are read again
# only when the install fails without them.
if [ ! -x /usr/bin/chromium ]; then
  echo "test.sh: installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ||
    { echo "test.sh: could not install chromium (the browser tests need /usr/bin/chromium)" >&2; exit 1; }
fi

tests/services.sh start "$services"
# shellcheck disable=SC1091
. "$services/env"

dotnet restore Imagebin.slnx
dotnet build Imagebin.slnx --no-restore -c Release

# The OpenAPI tests write the served document here; tools/openapi-check validates it after the test run.
export IMAGEBIN_OPENAPI_OUT="$results/openapi.json"

# Node and npm (for tools/): axe-core, pinned by tools/axe/package-lock.json, for the browser tests' accessibility
# checks (tests/Imagebin.Tests/Browser/Accessibility.cs); without it those tests fail and say why.
if ! command -v npm >/dev/null 2>&1; then
  echo "test.sh: installing nodejs and npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; } || true
fi
(cd tools/axe && npm ci --no-audit --no-fund --loglevel=error) || echo "test.sh: could not install axe-core in tools/axe" >&2
export IMAGEBIN_AXE_JS="$PWD/tools/axe/node_modules/axe-core/axe.min.js"

passed=0
failed=0
status=0
for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  log="$results/$name.log"
  echo "== $name"
  set +e
  dotnet test --project "$project" --no-build -c Release 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  set -e
  p=$(sed -n 's/^ *succeeded: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^ *failed: *\([0-9]*\).*/\1/p' "$log" | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$code" -ne 0 ]; then
    status=1
    # A crash before the summary is a failure too, even if nothing was counted.
    [ -z "$f" ] && failed=$((failed + 1))
  fi
done

# The shipped NSFW model must rebuild byte for byte from the pinned npm package, and nsfwjs itself must still give the
# outputs the C# tests compare the ONNX model against (docs/moderation-model.md). Node and npm were installed above.
echo "== tools/nsfw-model/check.sh"
if command -v npm >/dev/null 2>&1 && tools/nsfw-model/check.sh; then
  passed=$((passed + 1))
else
  echo "test.sh: the NSFW model check failed (or Node/npm could not be installed)" >&2
  failed=$((failed + 1))
  status=1
fi

# The served OpenAPI document must validate as OpenAPI 3.1 with a validator that is not the one that generated it.
echo "== tools/openapi-check/check.sh"
if command -v npm >/dev/null 2>&1 && tools/openapi-check/check.sh "$IMAGEBIN_OPENAPI_OUT"; then
  passed=$((passed + 1))
else
  echo "test.sh: the OpenAPI document is missing or not valid OpenAPI 3.1 (or Node/npm is missing)" >&2
  failed=$((failed + 1))
  status=1
fi

if [ "$passed" -eq 0 ]; then
  echo "test.sh: no test ran" >&2
  status=1
fi

echo "$passed passed, $failed failed"
exit "$status"
