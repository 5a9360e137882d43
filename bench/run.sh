#!/usr/bin/env bash
# Imagebin against nginx, side by side in one run, on this machine. Writes bench/BENCHMARKS.md.
#
#   bench/run.sh                 # ~3-4 minutes on 2 cores
#
# Knobs (environment): ROUNDS (2), DURATION (10s), WARMUP (2s), OUT (bench/BENCHMARKS.md),
# SKIP_BUILD=1 (use the dll already built), IMAGEBIN_DLL (another build of the dll). All traffic goes to 127.0.0.1 only.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
OUT=${OUT:-$BENCH_DIR/BENCHMARKS.md}
DLL=${IMAGEBIN_DLL:-"$REPO/src/Imagebin/bin/Release/net10.0/linux-x64/Imagebin.dll"}

BENCH_TAG=bench
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

# ---------------------------------------------------------------- packages
install_missing nginx=nginx wrk=wrk vips=libvips-tools curl=curl jq=jq pgrep=procps ss=iproute2
command -v dotnet >/dev/null || die "dotnet is not installed"

# ---------------------------------------------------------------- temp dir, cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imagebin-bench.XXXXXX")
IMAGEBIN_PID=""
NGINX_PIDS=()      # masters
NGINX_WORKERS=()   # their workers, recorded at start-up

cleanup() {
  local rc=$?
  set +e
  for pid in ${IMAGEBIN_PID:+"$IMAGEBIN_PID"} "${NGINX_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in ${IMAGEBIN_PID:+"$IMAGEBIN_PID"} "${NGINX_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  for pid in "${NGINX_WORKERS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


TIMEFORMAT='%U %S'   # bash `time`: user and system seconds of wrk
# busy clock ticks of the whole machine (all CPUs), from /proc/stat

# ---------------------------------------------------------------- test images
log "making test images"
IMG_S="$WORK/small.jpg"; IMG_L="$WORK/large.jpg"
make_jpeg 768 512 "$IMG_S"
make_jpeg 2430 1620 "$IMG_L"
SIZE_S=$(stat -c %s "$IMG_S"); SIZE_L=$(stat -c %s "$IMG_L")
log "small.jpg 768x512 = $SIZE_S bytes; large.jpg 2430x1620 = $SIZE_L bytes"

# ---------------------------------------------------------------- build + start Imagebin
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  log "building Imagebin (Release)"
  dotnet build -c Release "$REPO/src/Imagebin" -nologo -v q >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log" >&2; die "build failed"; }
fi
[[ -f $DLL ]] || die "$DLL not found"

DATA="$WORK/data"; mkdir -p "$DATA"
IB_PORT=$(free_port)
IB_BASE="http://127.0.0.1:$IB_PORT"
export Imagebin__DataDir="$DATA" Imagebin__PublicBaseUrl="$IB_BASE" \
       ASPNETCORE_URLS="$IB_BASE" Logging__LogLevel__Default=Warning
log "starting Imagebin on $IB_BASE (data $DATA)"
dotnet "$DLL" >"$WORK/imagebin.log" 2>&1 &
IMAGEBIN_PID=$!
for i in $(seq 300); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$IB_BASE/" || true)
  [[ $code != 000 ]] && break
  kill -0 "$IMAGEBIN_PID" 2>/dev/null || { cat "$WORK/imagebin.log" >&2; die "Imagebin exited"; }
  ((i == 300)) && die "Imagebin did not answer within 30 s"
  sleep 0.1
done

dotnet "$DLL" accounts create bench --password 'bench password that is long enough' >"$WORK/account.log" 2>&1 \
  || { cat "$WORK/account.log" >&2; die "accounts create failed"; }
KEY=$(dotnet "$DLL" keys create --account bench --scopes image:create,image:read,image:delete 2>"$WORK/key.err" | tail -n1)
[[ $KEY == pbca_live_* ]] || { cat "$WORK/key.err" >&2; die "keys create printed no key: $KEY"; }

# upload, wait for the scan, download, find the blob; sets ITEM_URL ITEM_SHA ITEM_BLOB ITEM_STORED
upload_one() { # file
  local file=$1 json="$WORK/upload.json" code id state
  code=$(curl -sS -o "$json" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: image/jpeg' --data-binary @"$file" "$IB_BASE/api/v1/items")
  [[ $code == 201 ]] || { cat "$json" >&2; die "upload of $file answered $code"; }
  id=$(jq -r .id "$json"); ITEM_URL=$(jq -r .direct_url "$json")
  for i in $(seq 200); do
    state=$(curl -sS -H "Authorization: Bearer $KEY" "$IB_BASE/api/v1/items/$id" | jq -r .scan_state)
    [[ $state == passed ]] && break
    [[ $state == pending || $state == scanning ]] || die "item $id scan_state=$state"
    ((i == 200)) && die "item $id not passed after 20 s"
    sleep 0.1
  done
  code=$(curl -sS -o "$WORK/dl.bin" -D "$WORK/dl.hdr" -w '%{http_code}' "$ITEM_URL")
  [[ $code == 200 ]] || die "GET $ITEM_URL answered $code"
  ITEM_SHA=$(sha256sum "$WORK/dl.bin" | cut -d' ' -f1)
  ITEM_BLOB="$DATA/blobs/${ITEM_SHA:0:2}/${ITEM_SHA:2:2}/$ITEM_SHA"
  [[ -f $ITEM_BLOB ]] || die "blob $ITEM_BLOB not found"
  cmp -s "$ITEM_BLOB" "$WORK/dl.bin" || die "blob differs from the served bytes"
  grep -qi "^etag: \"$ITEM_SHA\"" "$WORK/dl.hdr" || log "warning: ETag of $ITEM_URL is not the sha256"
  ITEM_STORED=$(stat -c %s "$ITEM_BLOB")
}
log "uploading the test images"
upload_one "$IMG_S"; URL_IB_S=$ITEM_URL; SHA_S=$ITEM_SHA; STORED_S=$ITEM_STORED
upload_one "$IMG_L"; URL_IB_L=$ITEM_URL; SHA_L=$ITEM_SHA; STORED_L=$ITEM_STORED
log "200 KB: $URL_IB_S ($STORED_S bytes stored); 2 MB: $URL_IB_L ($STORED_L bytes stored)"

read_status() { awk -v k="$1:" '$1==k {printf "%.1f", $2/1024}' "/proc/$IMAGEBIN_PID/status"; }
HWM_START=$(read_status VmHWM); RSS_START=$(read_status VmRSS)

# ---------------------------------------------------------------- nginx, sendfile on and off
start_nginx() { # on|off -> prints port
  local mode=$1 prefix="$WORK/nginx-$1" port conf
  port=$(free_port)
  mkdir -p "$prefix"
  conf="$prefix/nginx.conf"
  sed -e "s|@USER@|$(id -un) $(id -gn)|g" -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$port|g" -e "s|@ROOT@|$DATA/blobs|g" \
      -e "s|@SENDFILE@|$mode|g" "$BENCH_DIR/nginx.conf.template" >"$conf"
  nginx -t -q -c "$conf" -p "$prefix" 2>"$prefix/test.log" || { cat "$prefix/test.log" >&2; die "nginx config"; }
  nginx -c "$conf" -p "$prefix" >"$prefix/stdout.log" 2>&1 &
  local pid=$!
  NGINX_PIDS+=("$pid")
  for i in $(seq 100); do
    [[ -n $(ss -Hltn "sport = :$port") ]] && [[ -n $(pgrep -P "$pid" || true) ]] && break
    ((i == 100)) && { cat "$prefix/error.log" >&2; die "nginx ($mode) did not start"; }
    sleep 0.1
  done
  local workers; workers=$(pgrep -P "$pid" | tr '\n' ' ')
  NGINX_WORKERS+=($workers)
  eval "NGINX_${mode^^}_PID=$pid NGINX_${mode^^}_PORT=$port NGINX_${mode^^}_ALL=\"$pid $workers\""
}
start_nginx on
start_nginx off
log "nginx sendfile on: 127.0.0.1:$NGINX_ON_PORT (pids $NGINX_ON_ALL); sendfile off: 127.0.0.1:$NGINX_OFF_PORT (pids $NGINX_OFF_ALL)"

# all three serve the same bytes?
for size in S L; do
  sha_var=SHA_$size; sha=${!sha_var}; path="/${sha:0:2}/${sha:2:2}/$sha"
  for port in "$NGINX_ON_PORT" "$NGINX_OFF_PORT"; do
    got=$(curl -sS -f "http://127.0.0.1:$port$path" | sha256sum | cut -d' ' -f1)
    [[ $got == "$sha" ]] || die "nginx on :$port serves other bytes for $path"
  done
done

# ---------------------------------------------------------------- GET runs
GET_CMD="wrk -t1 -c32 -d$DURATION --latency"
declare -A BEST_RPS BEST_P99 BEST_CPU BEST_ROUND
RAW="$WORK/raw.md"; : >"$RAW"
GET_PROBLEMS=""

run_get() { # size-label target url pids...
  local size=$1 target=$2 url=$3; shift 3
  local out="$WORK/wrk-$size-$target-$ROUND.txt" t0 t1 m0 m1 s0 s1 other rps reqs p99 cpu_us bad
  wrk -t1 -c32 -d"$WARMUP" "$url" >/dev/null
  t0=$(cpu_ticks "$@"); m0=$(machine_busy); s0=$(date +%s.%N)
  { time wrk -t1 -c32 -d"$DURATION" --latency "$url" >"$out"; } 2>"$out.time"
  t1=$(cpu_ticks "$@"); m1=$(machine_busy); s1=$(date +%s.%N)
  # CPU of everything but this server and wrk during the run, in % of one core: noise from other work on the machine
  other=$(awk -v m=$((m1 - m0)) -v srv=$((t1 - t0)) -v hz="$CLK_TCK" -v w="$(cat "$out.time")" -v s0="$s0" -v s1="$s1" \
    'BEGIN{ split(w, a, " "); o = (m - srv) / hz - a[1] - a[2]; if (o < 0) o = 0; printf "%.0f", 100 * o / (s1 - s0) }')
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  reqs=$(awk '/requests in/ {print $1}' "$out")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' "$out")")
  cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN{ printf "%.1f", d / hz * 1e6 / n }')
  bad=$(grep -E 'Non-2xx|Socket errors' "$out" | tr -s ' ' | tr '\n' ';' || true)
  [[ -n $bad ]] && GET_PROBLEMS+="- $size $target round $ROUND: $bad"$'\n'
  log "$size $target round $ROUND: $rps req/s, p99 $p99 ms, $cpu_us µs CPU/req, other load $other%${bad:+, $bad}"
  echo "| $size | $ROUND | $target | $rps | $p99 | $cpu_us | $reqs | $other | ${bad:-} |" >>"$RAW"
  local k="$size/$target"
  if [[ -z ${BEST_RPS[$k]:-} ]] || awk -v a="$rps" -v b="${BEST_RPS[$k]}" 'BEGIN{exit !(a>b)}'; then
    BEST_RPS[$k]=$rps; BEST_P99[$k]=$p99; BEST_CPU[$k]=$cpu_us; BEST_ROUND[$k]=$ROUND
  fi
}

for size in "200 KB" "2 MB"; do
  if [[ $size == "200 KB" ]]; then sha=$SHA_S; ib=$URL_IB_S; else sha=$SHA_L; ib=$URL_IB_L; fi
  path="/${sha:0:2}/${sha:2:2}/$sha"
  for ROUND in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2086
    run_get "$size" "nginx sendfile on" "http://127.0.0.1:$NGINX_ON_PORT$path" $NGINX_ON_ALL
    # shellcheck disable=SC2086
    run_get "$size" "nginx sendfile off" "http://127.0.0.1:$NGINX_OFF_PORT$path" $NGINX_OFF_ALL
    run_get "$size" "Imagebin" "$ib" "$IMAGEBIN_PID"
  done
done

HWM_GET=$(read_status VmHWM); RSS_GET=$(read_status VmRSS)
log "Imagebin after the GET load: VmHWM $HWM_GET MB, VmRSS $RSS_GET MB"

# ---------------------------------------------------------------- uploads
code=$(curl -sS -o "$WORK/check.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
  -H 'Content-Type: image/jpeg' --data-binary @"$IMG_S" "$IB_BASE/api/v1/items")
[[ $code == 201 ]] || { cat "$WORK/check.json" >&2; die "check upload answered $code"; }
UP_URL="$IB_BASE/api/v1/items"
UP_CMD="UPLOAD_FILE=small.jpg UPLOAD_KEY=\$KEY wrk -t2 -c8 -d$DURATION --latency -s bench/upload.lua $UP_URL"
export UPLOAD_FILE="$IMG_S" UPLOAD_KEY="$KEY"
log "upload warm-up"
wrk -t2 -c8 -d"$WARMUP" -s "$BENCH_DIR/upload.lua" "$UP_URL" >"$WORK/wrk-upload-warmup.txt"
t0=$(cpu_ticks "$IMAGEBIN_PID")
wrk -t2 -c8 -d"$DURATION" --latency -s "$BENCH_DIR/upload.lua" "$UP_URL" >"$WORK/wrk-upload.txt"
t1=$(cpu_ticks "$IMAGEBIN_PID")
UP_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk-upload.txt")
UP_REQS=$(awk '/requests in/ {print $1}' "$WORK/wrk-upload.txt")
UP_P50=$(awk '/^PCTL_US/ {sub("p50=","",$2); printf "%.2f", $2/1000}' "$WORK/wrk-upload.txt")
UP_P90=$(awk '/^PCTL_US/ {sub("p90=","",$3); printf "%.2f", $3/1000}' "$WORK/wrk-upload.txt")
UP_P99=$(awk '/^PCTL_US/ {sub("p99=","",$4); printf "%.2f", $4/1000}' "$WORK/wrk-upload.txt")
UP_STATUSES=$(awk '/^STATUSES/ {$1=""; sub(/^ /,""); print}' "$WORK/wrk-upload.txt")
UP_BAD=$(grep -E 'Non-2xx|Socket errors' "$WORK/wrk-upload.txt" | tr -s ' ' | tr '\n' ';' || true)
UP_CPU=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$UP_REQS" 'BEGIN{ printf "%.0f", d / hz * 1e6 / n }')
BLOB_FILES=$(find "$DATA/blobs" -type f | wc -l)
log "uploads: $UP_RPS/s, p50 $UP_P50 ms, p99 $UP_P99 ms, statuses: $UP_STATUSES ${UP_BAD}; blob files now: $BLOB_FILES"
HWM_END=$(read_status VmHWM); RSS_END=$(read_status VmRSS)

# ---------------------------------------------------------------- BENCHMARKS.md
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN{ exit !(a >= b) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN{ exit !(a <= b) }'; }
mark() { if "$@"; then echo "met"; else echo "**not met**"; fi; }

declare -A REF RATIO
for s in "200 KB" "2 MB"; do
  if ge "${BEST_RPS[$s/nginx sendfile on]}" "${BEST_RPS[$s/nginx sendfile off]}"; then REF[$s]="nginx sendfile on"; else REF[$s]="nginx sendfile off"; fi
  RATIO[$s]=$(ratio "${BEST_RPS[$s/Imagebin]}" "${BEST_RPS[$s/${REF[$s]}]}")
done
table() { # size
  local s=$1 ref=${REF[$1]} t
  echo "| target | req/s | p99 (ms) | server CPU (µs/request) | ratio to $ref | best of round |"
  echo "|---|---:|---:|---:|---:|---:|"
  for t in "nginx sendfile on" "nginx sendfile off" "Imagebin"; do
    echo "| $t | ${BEST_RPS[$s/$t]} | ${BEST_P99[$s/$t]} | ${BEST_CPU[$s/$t]} | $(ratio "${BEST_RPS[$s/$t]}" "${BEST_RPS[$s/$ref]}") | ${BEST_ROUND[$s/$t]} |"
  done
}
T_S=$(table "200 KB"); T_L=$(table "2 MB")
target_s() { ge "${RATIO[200 KB]}" 0.9 && le "${BEST_P99[200 KB/Imagebin]}" 5; }
target_l() { ge "${RATIO[2 MB]}" 0.9; }
target_u() { le "$UP_P50" 8 && ge "$UP_RPS" 300; }
target_r() { le "$HWM_GET" 250; }
M_S=$(mark target_s); M_L=$(mark target_l); M_U=$(mark target_u); M_R=$(mark target_r)

COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$REPO" status --porcelain -- src 2>/dev/null | wc -l)
FS=$(df -T "$DATA" | awk 'NR==2 {print $2}')
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)

# bench/scaleout.sh and bench/pipeline.sh keep their own sections (between their markers) in the same file: carry them over
OTHER_SECTIONS=$(other_sections)
cat >"$OUT" <<EOF
# Benchmarks

Written by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Re-run it to refresh; see [README.md](README.md).

- Machine: $(nproc) cores, ${CPU_MODEL:-unknown CPU}, Linux $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; data dir on $FS
- Software: $(dotnet --version 2>/dev/null | sed 's/^/.NET SDK /'), $(nginx -v 2>&1 | sed 's|nginx version: ||'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}' || true), vips $(vips --version | sed 's/vips-//')
- Imagebin: commit $COMMIT$( ((DIRTY)) && echo " plus $DIRTY uncommitted file(s) under src/"), Release build, default configuration (no extra runtime environment), \`Logging__LogLevel__Default=Warning\`
- Images (made by \`vips\`: gradient + Gaussian noise, Q85): 200 KB = $SIZE_S bytes uploaded, $STORED_S stored; 2 MB = $SIZE_L bytes uploaded, $STORED_L stored.
  nginx serves the very blob files Imagebin stores (root = \`\$DataDir/blobs\`, URL \`/ab/cd/<sha256>\`).
- nginx: 1 worker, \`access_log off\`, \`open_file_cache\`, \`tcp_nopush\`, \`output_buffers 2 256k\`, keep-alive without a request cap
  ([nginx.conf.template](nginx.conf.template)); one instance with \`sendfile on\`, one with \`sendfile off\`. The reference is the faster of the two.

## Commands

\`\`\`sh
# per size and target: a $WARMUP warm-up, then the measured run; $ROUNDS rounds alternating nginx on, nginx off, Imagebin
wrk -t1 -c32 -d$WARMUP URL
$GET_CMD URL      # URL = http://127.0.0.1:PORT/ab/cd/<sha256> (nginx) or the item's direct_url (Imagebin)
# uploads (same 200 KB JPEG each time, 8 connections)
$UP_CMD
\`\`\`

Server CPU = utime + stime from \`/proc/PID/stat\` (nginx: master + worker) across the measured run, divided by the requests
wrk completed. wrk itself takes most of the other core, so on 2 cores req/s at 200 KB is partly bounded by the client;
CPU per request is the cleaner comparison. Each row is the best of $ROUNDS rounds by req/s.

## Direct GET, 200 KB, 32 connections

$T_S

## Direct GET, 2 MB, 32 connections

$T_L

## Upload, 200 KB JPEG, 8 connections

| uploads/s | p50 (ms) | p90 (ms) | p99 (ms) | server CPU (µs/upload) | responses |
|---:|---:|---:|---:|---:|---|
| $UP_RPS | $UP_P50 | $UP_P90 | $UP_P99 | $UP_CPU | $UP_STATUSES${UP_BAD:+ ($UP_BAD)} |

Every upload is the same bytes, so they deduplicate to one blob ($BLOB_FILES blob files on disk after the run); each
upload still streams the body to a temp file, probes the header, strips metadata, hashes, and inserts an item and a
scan job. The background scans of those items run during the measurement, as they would in service.

## Memory (Imagebin process)

| when | VmHWM (MB) | VmRSS (MB) |
|---|---:|---:|
| after start-up, 2 uploads and their scans | $HWM_START | $RSS_START |
| after the GET load | $HWM_GET | $RSS_GET |
| after the upload load | $HWM_END | $RSS_END |

## Against the DESIGN targets

| target | measured | |
|---|---|---|
| direct GET 200 KB ≥ 0.9 × faster nginx, p99 ≤ 5 ms | ${RATIO[200 KB]} × ${REF[200 KB]}, p99 ${BEST_P99[200 KB/Imagebin]} ms | $M_S |
| direct GET 2 MB ≥ 0.9 × faster nginx | ${RATIO[2 MB]} × ${REF[2 MB]} | $M_L |
| upload p50 ≤ 8 ms, ≥ 300 uploads/s (8 concurrent) | p50 $UP_P50 ms, $UP_RPS uploads/s | $M_U |
| server RSS ≤ 250 MB under the GET load | VmHWM $HWM_GET MB | $M_R |

## Every GET run

| size | round | target | req/s | p99 (ms) | CPU µs/req | requests | other load (% of a core) | errors |
|---|---:|---|---:|---:|---:|---:|---:|---|
$(cat "$RAW")
EOF
# warnings and errors the server logged, except the expected first-run admin notice (it holds a password)
awk '/^(trce|dbug|info|warn|fail|crit): / { keep = ($0 ~ /^(warn|fail|crit)/ && $0 !~ /FirstRunAdmin/); n = 0 } keep && n++ < 3' "$WORK/imagebin.log" >"$WORK/log-problems.txt"
LOG_LINES=$(grep -cE '^(warn|fail|crit): ' "$WORK/log-problems.txt" || true)
if ((LOG_LINES)); then
  { printf '\n**The Imagebin log has %s warning/error entries**; the first ones:\n\n```\n' "$LOG_LINES"
    head -30 "$WORK/log-problems.txt"; printf '```\n'; } >>"$OUT"
  log "WARNING: $LOG_LINES warning/error entries in the Imagebin log"
fi
if [[ -n $GET_PROBLEMS ]]; then
  printf '\n**Non-2xx responses or socket errors in GET runs:**\n\n%s' "$GET_PROBLEMS" >>"$OUT"
  log "WARNING: GET runs had non-2xx responses or socket errors:"; printf '%s' "$GET_PROBLEMS" >&2
fi
[[ -n $OTHER_SECTIONS ]] && printf '\n%s\n' "$OTHER_SECTIONS" >>"$OUT"
log "wrote $OUT"
cat "$OUT"
