#!/usr/bin/env bash
# Imagebin against nginx, side by side in one run, on this machine. Writes bench/BENCHMARKS.md.
#
#   bench/run.sh                 # ~6 minutes on 2 cores (~4 with SKIP_VARIANTS=1)
#
# Knobs (environment): ROUNDS (2), DURATION (10s), WARMUP (2s), OUT (bench/BENCHMARKS.md),
# SKIP_BUILD=1 (use the dll already built), IMAGEBIN_DLL (another build of the dll), VARIANT_FILES (10: 12 MP JPEGs for
# the first-variant timing), SKIP_VARIANTS=1 (no variant sections). All traffic goes to 127.0.0.1 only.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
OUT=${OUT:-$BENCH_DIR/BENCHMARKS.md}
DLL=${IMAGEBIN_DLL:-"$REPO/src/Imagebin/bin/Release/net10.0/linux-x64/Imagebin.dll"}
VARIANT_FILES=${VARIANT_FILES:-10}
SKIP_VARIANTS=${SKIP_VARIANTS:-0}
[[ $SKIP_VARIANTS == 1 ]] || ((VARIANT_FILES >= 1)) || { echo "VARIANT_FILES must be at least 1" >&2; exit 2; }

BENCH_TAG=bench
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

# ---------------------------------------------------------------- packages
install_missing nginx=nginx wrk=wrk vips=libvips-tools vipsthumbnail=libvips-tools vipsheader=libvips-tools curl=curl jq=jq \
  pgrep=procps ss=iproute2
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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.2f", a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN{ exit !(a >= b) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN{ exit !(a <= b) }'; }
mark() { if "$@"; then echo "met"; else echo "**not met**"; fi; }
# busy clock ticks of the whole machine (all CPUs), from /proc/stat

# ---------------------------------------------------------------- test images
log "making test images"
IMG_S="$WORK/small.jpg"; IMG_L="$WORK/large.jpg"
make_jpeg 768 512 "$IMG_S"
make_jpeg 2430 1620 "$IMG_L"
SIZE_S=$(stat -c %s "$IMG_S"); SIZE_L=$(stat -c %s "$IMG_L")
log "small.jpg 768x512 = $SIZE_S bytes; large.jpg 2430x1620 = $SIZE_L bytes"
V_FILES=()
if [[ $SKIP_VARIANTS != 1 ]]; then
  make_jpeg_set "$VARIANT_FILES" 4000 3000 "$WORK/v12"
  V_FILES=("$WORK"/v12/img-*.jpg)
  V_SIZE=$(cat "${V_FILES[@]}" | wc -c | awk -v n="${#V_FILES[@]}" '{printf "%.0f", $1 / n / 1024}')
  log "$VARIANT_FILES distinct 4000x3000 JPEGs, $V_SIZE KB on average"
fi

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
# VariantStore's debug line gives each variant's encode time (the only debug output: 1 line per variant made)
env 'Logging__LogLevel__Imagebin.Features.Media.VariantStore=Debug' dotnet "$DLL" >"$WORK/imagebin.log" 2>&1 &
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

# wait_passed id seconds: until the item's scan passed
wait_passed() {
  local id=$1 tenths=$(($2 * 10)) state i
  for i in $(seq "$tenths"); do
    state=$(curl -sS -H "Authorization: Bearer $KEY" "$IB_BASE/api/v1/items/$id" | jq -r .scan_state)
    [[ $state == passed ]] && return
    [[ $state == pending || $state == scanning ]] || die "item $id scan_state=$state"
    ((i == tenths)) && die "item $id not passed after $2 s"
    sleep 0.1
  done
}

# upload, wait for the scan, download, find the blob; sets ITEM_URL ITEM_SHA ITEM_BLOB ITEM_STORED
upload_one() { # file
  local file=$1 json="$WORK/upload.json" code id state
  code=$(curl -sS -o "$json" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: image/jpeg' --data-binary @"$file" "$IB_BASE/api/v1/items")
  [[ $code == 201 ]] || { cat "$json" >&2; die "upload of $file answered $code"; }
  id=$(jq -r .id "$json"); ITEM_URL=$(jq -r .direct_url "$json")
  wait_passed "$id" 20
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
  # shellcheck disable=SC2206
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

# the largest VmRSS (kB) of Imagebin seen every 0.2 s while the direct GET runs measure it: "RSS under the GET load"
RSS_LOAD_KB=0
RSS_SAMPLES="$WORK/rss-samples"
sample_rss() { # pid
  while kill -0 "$1" 2>/dev/null; do
    awk '$1=="VmRSS:" {print $2}' "/proc/$1/status" 2>/dev/null || true
    sleep 0.2
  done
}

run_get() { # size-label target url pids...
  local size=$1 target=$2 url=$3; shift 3
  local out="$WORK/wrk-$size-$target-$ROUND.txt" t0 t1 m0 m1 s0 s1 other rps reqs p99 cpu_us bad sampler="" peak
  wrk -t1 -c32 -d"$WARMUP" "$url" >/dev/null
  if [[ $target == "Imagebin" ]]; then sample_rss "$IMAGEBIN_PID" >"$RSS_SAMPLES" & sampler=$!; fi
  t0=$(cpu_ticks "$@"); m0=$(machine_busy); s0=$(date +%s.%N)
  { time wrk -t1 -c32 -d"$DURATION" --latency "$url" >"$out"; } 2>"$out.time"
  t1=$(cpu_ticks "$@"); m1=$(machine_busy); s1=$(date +%s.%N)
  if [[ -n $sampler ]]; then
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    peak=$(sort -n "$RSS_SAMPLES" | tail -n1); peak=${peak:-0}
    ((peak > RSS_LOAD_KB)) && RSS_LOAD_KB=$peak
  fi
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
RSS_LOAD=$(awk -v k="$RSS_LOAD_KB" 'BEGIN{printf "%.1f", k/1024}')
log "Imagebin after the GET load: VmHWM $HWM_GET MB, VmRSS $RSS_GET MB; largest VmRSS during it $RSS_LOAD MB"

# ---------------------------------------------------------------- variants
# first request of ?w=320 of distinct 12 MP JPEGs against vipsthumbnail with VariantEncoder's settings, then the cached
# variant under load against a direct GET of the same bytes (uploaded as an item) and nginx serving that file
VT_OPTS=(-s '320x10000000>' -e srgb)                   # width 320, height unbounded, never enlarge, export sRGB
VT_SAVE='[Q=82,optimize_coding,interlace,strip]'      # VariantEncoder: Jpegsave q 82, optimize_coding, interlace, no metadata
with_query() { if [[ $1 == *\?* ]]; then echo "$1&$2"; else echo "$1?$2"; fi; }
if [[ $SKIP_VARIANTS != 1 ]]; then
  log "uploading the $VARIANT_FILES 12 MP JPEGs"
  V_IDS=(); V_URLS=()
  for f in "${V_FILES[@]}"; do
    code=$(curl -sS -o "$WORK/upload.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
      -H 'Content-Type: image/jpeg' --data-binary @"$f" "$IB_BASE/api/v1/items")
    [[ $code == 201 ]] || { cat "$WORK/upload.json" >&2; die "upload of $f answered $code"; }
    [[ $(jq -r .private "$WORK/upload.json") == false ]] || die "upload of $f is not public"
    V_IDS+=("$(jq -r .id "$WORK/upload.json")"); V_URLS+=("$(jq -r .direct_url "$WORK/upload.json")")
  done
  for id in "${V_IDS[@]}"; do wait_passed "$id" 120; done
  wait_idle "$IMAGEBIN_PID" 60 || log "warning: Imagebin still busy 60 s after the scans passed"
  V_IDLE_TICKS=$(cpu_ticks "$IMAGEBIN_PID")
  HWM_V12=$(read_status VmHWM); RSS_V12=$(read_status VmRSS)

  log "first ?w=320 of each, then vipsthumbnail on the same file"
  mkdir -p "$WORK/vt" "$WORK/vt-all" "$WORK/variants"
  : >"$WORK/v-ib.txt"; : >"$WORK/v-vt.txt"
  TIMEFORMAT='%R %U %S'
  for i in "${!V_FILES[@]}"; do
    out="$WORK/variants/$(basename "${V_FILES[$i]}")"
    read -r code t < <(curl -sS -o "$out" -w '%{http_code} %{time_total}\n' "$(with_query "${V_URLS[$i]}" w=320)")
    [[ $code == 200 ]] || die "first ?w=320 of ${V_URLS[$i]} answered $code"
    echo "$t" >>"$WORK/v-ib.txt"
    # wall time of the whole command, process start included
    { time vipsthumbnail "${V_FILES[$i]}" "${VT_OPTS[@]}" -o "$WORK/vt/%s.jpg$VT_SAVE"; } 2>>"$WORK/v-vt.txt"
  done
  # the same files in one process: libvips' own time per file, without process start
  { time vipsthumbnail "${V_FILES[@]}" "${VT_OPTS[@]}" -o "$WORK/vt-all/%s.jpg$VT_SAVE"; } 2>"$WORK/v-vt-all.txt"
  TIMEFORMAT='%U %S'
  V_BAD=""
  for f in "$WORK"/variants/*.jpg; do
    dims=$(vipsheader -f width "$f")x$(vipsheader -f height "$f")
    [[ $dims == 320x240 ]] || V_BAD+=" $(basename "$f")=$dims"
    [[ $(vipsheader -f width "$WORK/vt/$(basename "$f")") == 320 ]] || die "vipsthumbnail made no 320 px image of $f"
  done
  [[ -z $V_BAD ]] || log "WARNING: variants not 320x240:$V_BAD"
  V_DIMS=$(vipsheader -f width "$WORK/variants/img-00.jpg")×$(vipsheader -f height "$WORK/variants/img-00.jpg")
  read -r V_IB_MIN V_IB_MED V_IB_P90 < <(awk '{print $1 * 1000}' "$WORK/v-ib.txt" | summary %.1f)
  read -r V_VT_MIN V_VT_MED V_VT_P90 < <(awk '{print $1 * 1000}' "$WORK/v-vt.txt" | summary %.1f)
  V_VT_CPU_MS=$(awk '{ s += $2 + $3 } END { printf "%.0f", s * 1000 / NR }' "$WORK/v-vt.txt")
  V_VT_ALL=$(awk -v n="${#V_FILES[@]}" '{printf "%.1f", $1 * 1000 / n}' "$WORK/v-vt-all.txt")
  # VariantStore's debug lines: "Made variant variants/…/320.jpg in 123.4 ms" (encode only: thumbnail + save)
  read -r V_ENC_MIN V_ENC_MED V_ENC_P90 < <(grep -oE 'Made variant variants/[^ ]+/320\.jpg in [0-9.]+ ms' "$WORK/imagebin.log" \
    | awk '{print $(NF - 1)}' | summary %.1f)
  V_IB_BYTES=$(cat "$WORK"/variants/*.jpg | wc -c | awk -v n="${#V_FILES[@]}" '{printf "%.0f", $1 / n}')
  V_VT_BYTES=$(cat "$WORK"/vt/*.jpg | wc -c | awk -v n="${#V_FILES[@]}" '{printf "%.0f", $1 / n}')
  V_RATIO=$(awk -v a="$V_IB_MED" -v b="$V_VT_MED" 'BEGIN{ printf "%.2f", a / b }')
  V_RATIO_ALL=$(awk -v a="$V_IB_MED" -v b="$V_VT_ALL" 'BEGIN{ printf "%.2f", a / b }')
  V_CPU_MS=$(awk -v d=$(($(cpu_ticks "$IMAGEBIN_PID") - V_IDLE_TICKS)) -v hz="$CLK_TCK" -v n="${#V_FILES[@]}" \
    'BEGIN{ printf "%.0f", d / hz * 1000 / n }')
  log "first ?w=320: median $V_IB_MED ms (encode $V_ENC_MED ms); vipsthumbnail median $V_VT_MED ms, in one process $V_VT_ALL ms/file; ratio $V_RATIO"

  log "cached variant: uploading the variant's bytes as an item"
  V_URL=$(with_query "${V_URLS[0]}" w=320)
  V_URL_WEBP=$(with_query "${V_URLS[0]}" 'w=320&format=webp')
  cp "$WORK/variants/img-00.jpg" "$WORK/v320.jpg"
  upload_one "$WORK/v320.jpg"; URL_IB_V=$ITEM_URL; SHA_V=$ITEM_SHA; STORED_V=$ITEM_STORED
  cmp -s "$WORK/v320.jpg" "$ITEM_BLOB" || die "the uploaded variant was stored with other bytes: no like-for-like direct GET"
  code=$(curl -sS -o "$WORK/v320.webp" -w '%{http_code}' "$V_URL_WEBP")
  [[ $code == 200 ]] || die "GET $V_URL_WEBP answered $code"
  SIZE_V_WEBP=$(stat -c %s "$WORK/v320.webp")
  # the faster nginx at 200 KB serves the item's blob
  if ge "${BEST_RPS[200 KB/nginx sendfile on]}" "${BEST_RPS[200 KB/nginx sendfile off]}"; then
    V_NGINX="nginx sendfile on"; V_NGINX_PORT=$NGINX_ON_PORT; V_NGINX_PIDS=$NGINX_ON_ALL
  else
    V_NGINX="nginx sendfile off"; V_NGINX_PORT=$NGINX_OFF_PORT; V_NGINX_PIDS=$NGINX_OFF_ALL
  fi
  V_NGINX_URL="http://127.0.0.1:$V_NGINX_PORT/${SHA_V:0:2}/${SHA_V:2:2}/$SHA_V"
  [[ $(curl -sS -f "$V_NGINX_URL" | sha256sum | cut -d' ' -f1) == "$SHA_V" ]] || die "nginx serves other bytes for $V_NGINX_URL"
  [[ $(curl -sS -f "$V_URL" | sha256sum | cut -d' ' -f1) == "$SHA_V" ]] || die "$V_URL now serves other bytes"
  log "320 px JPEG: $STORED_V bytes ($URL_IB_V); WebP: $SIZE_V_WEBP bytes"
  for ROUND in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2086
    run_get "320 px" "$V_NGINX" "$V_NGINX_URL" $V_NGINX_PIDS
    run_get "320 px" "Imagebin direct GET" "$URL_IB_V" "$IMAGEBIN_PID"
    run_get "320 px" "Imagebin ?w=320" "$V_URL" "$IMAGEBIN_PID"
    run_get "320 px" "Imagebin ?w=320&format=webp" "$V_URL_WEBP" "$IMAGEBIN_PID"
  done
  HWM_VAR=$(read_status VmHWM); RSS_VAR=$(read_status VmRSS)
  log "Imagebin after the variant load: VmHWM $HWM_VAR MB, VmRSS $RSS_VAR MB"
fi

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
target_r() { le "$RSS_LOAD" 250; }
M_S=$(mark target_s); M_L=$(mark target_l); M_U=$(mark target_u); M_R=$(mark target_r)

V_SECTION=""; V_MEM=""; V_TARGETS=""; V_COMMANDS=""
V_LOGNOTE=""
[[ $SKIP_VARIANTS == 1 ]] || V_LOGNOTE=" (\`Debug\` for \`Imagebin.Features.Media.VariantStore\`: one line per variant made, with its encode time)"
if [[ $SKIP_VARIANTS != 1 ]]; then
  NETVIPS_NATIVE=$(grep -oE 'NetVips\.Native" Version="[^"]+' "$REPO/Directory.Packages.props" | sed 's/.*Version="//' || true)
  V_DIRECT=${BEST_RPS[320 px/Imagebin direct GET]}
  V_CACHED_RATIO=$(ratio "${BEST_RPS[320 px/Imagebin ?w=320]}" "$V_DIRECT")
  V_CPU_RATIO=$(ratio "${BEST_CPU[320 px/Imagebin ?w=320]}" "${BEST_CPU[320 px/Imagebin direct GET]}")
  target_vf() { le "$V_RATIO" 1.15; }
  target_vc() { ge "$V_CACHED_RATIO" 0.9; }
  V_TARGETS="| first variant, 12 MP JPEG → \`?w=320\`, ≤ 1.15 × vipsthumbnail | median $V_IB_MED ms = $V_RATIO × vipsthumbnail's $V_VT_MED ms per file, process start included ($V_RATIO_ALL × its $V_VT_ALL ms in one process) | $(mark target_vf) |
| cached variant the same as a direct GET of that size (read as ≥ 0.9 × its req/s) | $V_CACHED_RATIO × the direct GET's req/s, p99 ${BEST_P99[320 px/Imagebin ?w=320]} against ${BEST_P99[320 px/Imagebin direct GET]} ms, CPU/request $V_CPU_RATIO × | $(mark target_vc) |"
  V_MEM="| after $VARIANT_FILES uploads of 12 MP and their scans | $HWM_V12 | $RSS_V12 |
| after the variant load ($VARIANT_FILES first variants of 12 MP, cached \`?w=320\` runs) | $HWM_VAR | $RSS_VAR |"
  V_COMMANDS="# first variants, per file i (sequential; the server idle): the server, then vipsthumbnail with VariantEncoder's settings
curl -sS -o variant.jpg -w '%{http_code} %{time_total}\\n' \"DIRECT_URL_i?w=320\"
time vipsthumbnail img-i.jpg -s '${VT_OPTS[1]}' -e srgb -o 'vt/%s.jpg$VT_SAVE'
time vipsthumbnail img-*.jpg -s '${VT_OPTS[1]}' -e srgb -o 'vt-all/%s.jpg$VT_SAVE'     # all files in one process
# cached variant, per round: $V_NGINX, Imagebin direct GET, ?w=320, ?w=320&format=webp (each after a $WARMUP warm-up)
$GET_CMD URL"
  v_table() {
    local t
    echo "| target | bytes | req/s | p99 (ms) | server CPU (µs/request) | ratio to Imagebin direct GET | ratio to $V_NGINX | best of round |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for t in "$V_NGINX" "Imagebin direct GET" "Imagebin ?w=320" "Imagebin ?w=320&format=webp"; do
      local bytes=$STORED_V; [[ $t == *webp ]] && bytes=$SIZE_V_WEBP
      echo "| $t | $bytes | ${BEST_RPS[320 px/$t]} | ${BEST_P99[320 px/$t]} | ${BEST_CPU[320 px/$t]} | $(ratio "${BEST_RPS[320 px/$t]}" "$V_DIRECT") | $(ratio "${BEST_RPS[320 px/$t]}" "${BEST_RPS[320 px/$V_NGINX]}") | ${BEST_ROUND[320 px/$t]} |"
    done
  }
  V_SECTION="## Variant, first request: 12 MP JPEG → \`?w=320\`

$VARIANT_FILES distinct 4000×3000 JPEGs ($V_SIZE KB on average; cut at different offsets from one noise field, Q85) uploaded
as public items. After every scan passed and the server was idle, one request each of \`direct_url?w=320\`, one at a
time (curl's \`time_total\`: the whole request, including the encode and the write to the store), each followed by
\`vipsthumbnail\` on the same file with VariantEncoder's settings (width 320, never enlarged, sRGB, JPEG Q82
optimize_coding interlace strip): the wall time of the command, so **process start and libvips start-up are included**
on that side. The last row runs all files through one vipsthumbnail process.

| | min (ms) | median (ms) | p90 (ms) | CPU (ms/file) | output (bytes, mean) |
|---|---:|---:|---:|---:|---:|
| Imagebin, first \`?w=320\` | $V_IB_MIN | $V_IB_MED | $V_IB_P90 | $V_CPU_MS | $V_IB_BYTES |
| of which the encode (VariantStore's debug log: thumbnail + save) | $V_ENC_MIN | $V_ENC_MED | $V_ENC_P90 | | |
| vipsthumbnail, one process per file | $V_VT_MIN | $V_VT_MED | $V_VT_P90 | $V_VT_CPU_MS | $V_VT_BYTES |
| vipsthumbnail, all $VARIANT_FILES files in one process (÷ $VARIANT_FILES) | | $V_VT_ALL | | | |

Ratio of the medians, Imagebin ÷ vipsthumbnail per file: **$V_RATIO** (÷ the in-process time: $V_RATIO_ALL). Every
variant is $V_DIMS (\`vipsheader\`)${V_BAD:+; **not 320×240:**$V_BAD}. Server CPU = the Imagebin process's utime + stime
over the first requests ÷ files; vipsthumbnail's = user + sys of the command. Imagebin encodes with the libvips of
NetVips.Native ${NETVIPS_NATIVE:-?}, vipsthumbnail is the system's $(vips --version).

## Cached variant against a direct GET of the same bytes, 32 connections

The first 12 MP image's \`?w=320\` (already made, $STORED_V bytes), against the direct GET of an item uploaded with exactly
those bytes and $V_NGINX (the faster nginx at 200 KB) serving that item's blob file; \`?w=320&format=webp\`
($SIZE_V_WEBP bytes) as one more row. Per round in this order, each after a $WARMUP warm-up; best of $ROUNDS rounds by req/s.

$(v_table)
"
fi

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
- Imagebin: commit $COMMIT$( ((DIRTY)) && echo " plus $DIRTY uncommitted file(s) under src/"), Release build, default configuration (no extra runtime environment), \`Logging__LogLevel__Default=Warning\`$V_LOGNOTE
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
${V_COMMANDS:+$V_COMMANDS
}\`\`\`

Server CPU = utime + stime from \`/proc/PID/stat\` (nginx: master + worker) across the measured run, divided by the requests
wrk completed. wrk itself takes most of the other core, so on 2 cores req/s at 200 KB is partly bounded by the client;
CPU per request is the cleaner comparison. Each row is the best of $ROUNDS rounds by req/s.

## Direct GET, 200 KB, 32 connections

$T_S

## Direct GET, 2 MB, 32 connections

$T_L

${V_SECTION:+$V_SECTION
}## Upload, 200 KB JPEG, 8 connections

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
| during the GET load (largest VmRSS, sampled every 0.2 s) | | $RSS_LOAD |
| after the GET load | $HWM_GET | $RSS_GET |
${V_MEM:+$V_MEM
}| after the upload load | $HWM_END | $RSS_END |

## Against the DESIGN targets

| target | measured | |
|---|---|---|
| direct GET 200 KB ≥ 0.9 × faster nginx, p99 ≤ 5 ms | ${RATIO[200 KB]} × ${REF[200 KB]}, p99 ${BEST_P99[200 KB/Imagebin]} ms | $M_S |
| direct GET 2 MB ≥ 0.9 × faster nginx | ${RATIO[2 MB]} × ${REF[2 MB]} | $M_L |
| upload p50 ≤ 8 ms, ≥ 300 uploads/s (8 concurrent) | p50 $UP_P50 ms, $UP_RPS uploads/s | $M_U |
| server RSS ≤ 250 MB under the GET load | largest VmRSS during the direct GET runs $RSS_LOAD MB (VmHWM since start-up, scans included: $HWM_GET MB) | $M_R |
${V_TARGETS:+$V_TARGETS
}
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
