#!/usr/bin/env bash
# Imagebin embedded (SQLite + files) against scale-out (PostgreSQL + Ceph RGW), one node each, in one run on this
# machine; then the account list with ITEMS items seeded in each store. Writes its section of bench/BENCHMARKS.md
# (between <!-- scaleout:begin --> and <!-- scaleout:end -->, replaced when present, appended otherwise).
#
#   bench/scaleout.sh            # ~11-15 minutes on 2 cores with the defaults
#
# Knobs (environment): ROUNDS (2), DURATION (10s, every measured wrk run), WARMUP (2s), ITEMS (1000000),
# SKIP_LIST=1 (no list part), SKIP_SQLITE_LIST=1 (list on PostgreSQL only), SKIP_BUILD=1, IMAGEBIN_DLL, OUT
# (bench/BENCHMARKS.md), DRAIN_TIMEOUT (120: seconds to wait for queued scans before a measured run),
# SCALEOUT_ENV ("Serving__InlineIo=false": extra VAR=value settings of every scale-out node; see below),
# WAIT_FOR_TESTS=0 (measure even while a test run, Imagebin.Tests, is active: only for debugging the script), KEEP_WORK=1.
# Everything runs on 127.0.0.1; PostgreSQL and RGW are throwaway instances from tests/services.sh.
set -eEuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ITEMS=${ITEMS:-1000000}
OUT=${OUT:-$BENCH_DIR/BENCHMARKS.md}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-120}
# With the default Serving:InlineIo=true, application continuations run on the socket engine threads; the AWS SDK
# unmarshals S3 XML responses with synchronous reads, which then wait for the very thread they block, and the scale-out
# node hangs (seen here on ListObjectsV2 at start-up: /healthz, PostgreSQL connects and uploads all time out).
# So scale-out nodes run with inline I/O off unless SCALEOUT_ENV says otherwise (since commit 49dbbe5 that is also the
# node's own default when it uses PostgreSQL or S3; the setting stays explicit so older builds are measured the same way).
SCALEOUT_ENV=${SCALEOUT_ENV-Serving__InlineIo=false}
DLL=${IMAGEBIN_DLL:-"$REPO/src/Imagebin/bin/Release/net10.0/linux-x64/Imagebin.dll"}
T_START=$(date +%s)

BENCH_TAG=scaleout
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

# ---------------------------------------------------------------- packages
install_missing wrk=wrk vips=libvips-tools curl=curl jq=jq sqlite3=sqlite3 psql=postgresql-client pgrep=procps ss=iproute2
command -v dotnet >/dev/null || die "dotnet is not installed"

# ---------------------------------------------------------------- temp dir, cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imagebin-scaleout.XXXXXX")
chmod 755 "$WORK"   # tests/services.sh runs PostgreSQL as the postgres user under $WORK/services
SVC="$WORK/services"
NODE_PID=""
SERVICES_STARTED=0

cleanup() {
  local rc=$?
  set +e
  stop_node
  if ((SERVICES_STARTED)); then "$REPO/tests/services.sh" stop "$SVC" >/dev/null 2>&1; fi
  if [[ ${KEEP_WORK:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted by a signal"; exit 130' INT TERM HUP
trap 'log "ERROR: a command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

# Another engineer's test suite on this machine would distort every number: wait until none runs.
QUIET_WAITS=0
wait_quiet() {
  [[ ${WAIT_FOR_TESTS:-1} == 1 ]] || return 0
  if pgrep -f Imagebin.Tests >/dev/null; then
    log "a test run (Imagebin.Tests) is active: waiting for it to finish"
    while pgrep -f Imagebin.Tests >/dev/null; do sleep 10; done
    QUIET_WAITS=$((QUIET_WAITS + 1))
    log "no test run any more"
  fi
}

us_to_ms() { awk -v v="$1" 'BEGIN{ printf "%.2f", v / 1000 }'; }

IMG="$WORK/small.jpg"
make_jpeg 768 512 "$IMG"
IMG_SIZE=$(stat -c %s "$IMG")
log "small.jpg 768x512 = $IMG_SIZE bytes"

# ---------------------------------------------------------------- build
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  log "building Imagebin (Release)"
  dotnet build -c Release "$REPO/src/Imagebin" -nologo -v q >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log" >&2; die "build failed"; }
fi
[[ -f $DLL ]] || die "$DLL not found"
# what was built: other people may commit while the bench runs
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$REPO" status --porcelain -- src 2>/dev/null | wc -l)
BUILT_AT=$(date -u -r "$DLL" '+%H:%M UTC')

# ---------------------------------------------------------------- PostgreSQL + RGW
log "starting PostgreSQL and Ceph RGW (tests/services.sh)"
SERVICES_STARTED=1
"$REPO/tests/services.sh" start "$SVC" 2>"$WORK/services.log" || { cat "$WORK/services.log" >&2; die "services did not start"; }
# shellcheck disable=SC1091
. "$SVC/env"
PG_HOST=$(sed -n 's/.*Host=\([^;]*\).*/\1/p' <<<"$IMAGEBIN_TEST_POSTGRES")
PG_PORT=$(sed -n 's/.*Port=\([^;]*\).*/\1/p' <<<"$IMAGEBIN_TEST_POSTGRES")
PG_DB=imagebin_bench
BUCKET="imagebin-bench-$(date +%s)"
psql_db() { # database, then psql arguments
  local db=$1; shift
  psql -X -q -At -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$db" "$@"
}
psql_db postgres -c "CREATE DATABASE $PG_DB"
PG_VERSION=$(psql_db postgres -c 'SHOW server_version' | awk '{print $1}')
RGW_VERSION=$(radosgw --version 2>/dev/null | awk '{print $3}' || echo unknown)
log "PostgreSQL $PG_VERSION on $PG_HOST:$PG_PORT (database $PG_DB), RGW $RGW_VERSION at $IMAGEBIN_TEST_S3_URL (bucket $BUCKET)"
# PIDs of the services, for CPU accounting: RGW, OSD, monitor and every PostgreSQL process
svc_pids() {
  local f pg
  for f in radosgw ceph-osd ceph-mon; do [[ -f $SVC/$f.pid ]] && cat "$SVC/$f.pid"; done
  pg=$(cat "$SVC/postgres.pid")
  echo "$pg"; pgrep -P "$pg" || true
}

# ---------------------------------------------------------------- the two backends
EMB_DATA="$WORK/embedded-data"; SO_DATA="$WORK/scaleout-data"; mkdir -p "$EMB_DATA" "$SO_DATA"
EMB_PORT=$(free_port); SO_PORT=$(free_port)
declare -A BASE=([embedded]="http://127.0.0.1:$EMB_PORT" [scaleout]="http://127.0.0.1:$SO_PORT")
SO_CONN="Host=$PG_HOST;Port=$PG_PORT;Username=postgres;Database=$PG_DB"

# Sets the environment of a node (and of the admin commands, which need the same) in the current (sub)shell.
# Variants: embedded, embedded-noinline (Serving:InlineIo off), scaleout (+ SCALEOUT_ENV), scaleout-nocache (+ no local
# blob cache: every GET streams the object from RGW through the node). A variant shares its backend's port, key and data.
declare -A VARIANT_ENV=([embedded]="" [embedded-noinline]="Serving__InlineIo=false" [scaleout]="$SCALEOUT_ENV"
  [scaleout-nocache]="$SCALEOUT_ENV Storage__S3__LocalCacheBytes=0")
declare -A LABEL=([embedded]="embedded (SQLite + files)" [embedded-noinline]="embedded, \`Serving__InlineIo=false\`"
  [scaleout]="scale-out (PostgreSQL + RGW)${SCALEOUT_ENV:+, \`$SCALEOUT_ENV\`}"
  [scaleout-nocache]="scale-out, as above + \`Storage__S3__LocalCacheBytes=0\` (no local blob cache)" [RGW direct]="RGW alone, same object, no node")
node_env() { # variant
  local v=$1 b=${1%%-*} kv
  unset Database__Provider ConnectionStrings__Imagebin Storage__Provider Serving__InlineIo Storage__S3__LocalCacheBytes
  export Logging__LogLevel__Default=Warning Imagebin__PublicBaseUrl="${BASE[$b]}" ASPNETCORE_URLS="${BASE[$b]}"
  for kv in ${VARIANT_ENV[$v]}; do export "${kv?}"; done
  if [[ $b == embedded ]]; then
    export Imagebin__DataDir="$EMB_DATA"
  else
    export Imagebin__DataDir="$SO_DATA" Database__Provider=Postgres ConnectionStrings__Imagebin="$SO_CONN" \
      Storage__Provider=S3 Storage__S3__ServiceUrl="$IMAGEBIN_TEST_S3_URL" Storage__S3__Bucket="$BUCKET" \
      Storage__S3__AccessKey="$IMAGEBIN_TEST_S3_ACCESS_KEY" Storage__S3__SecretKey="$IMAGEBIN_TEST_S3_SECRET_KEY" \
      Storage__S3__Region=us-east-1 Storage__S3__ForcePathStyle=true
  fi
}

start_node() { # variant
  local v=$1 b=${1%%-*} code i
  stop_node
  ( node_env "$v"; exec dotnet "$DLL" ) >>"$WORK/node-$b.log" 2>&1 &
  NODE_PID=$!
  for i in $(seq 600); do
    code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${BASE[$b]}/healthz" || true)
    [[ $code == 200 ]] && return 0
    kill -0 "$NODE_PID" 2>/dev/null || { tail -40 "$WORK/node-$b.log" >&2; die "the $v node exited"; }
    ((i == 600)) && die "the $v node did not answer /healthz with 200 within 60 s (last: $code)"
    sleep 0.1
  done
}

# Unfinished background jobs (the scans of uploaded items) of a backend.
pending_jobs() { # embedded|scaleout
  local q="SELECT count(*) FROM jobs WHERE state IN ('queued','running');"
  if [[ $1 == embedded ]]; then
    sqlite3 -readonly -cmd '.timeout 5000' "$EMB_DATA/imagebin.db" "$q"
  else
    psql_db "$PG_DB" -c "$q"
  fi
}
# Waits (node running) until the backlog of scans is done, so it does not load the next measured run.
drain_jobs() { # backend
  local b=$1 n t0=$SECONDS
  while n=$(pending_jobs "$b"); ((n > 0)); do
    if ((SECONDS - t0 >= DRAIN_TIMEOUT)); then
      log "warning: $n jobs of $b still unfinished after ${DRAIN_TIMEOUT}s"
      DRAIN_STALLS+="- $b: $n scan jobs still unfinished after waiting ${DRAIN_TIMEOUT} s with the node running (the later runs went on regardless)."$'\n'
      # where the node's threads are, for whoever looks into it (dotnet-stack, when installed as a global tool)
      local ds; ds=$(command -v dotnet-stack || echo "$HOME/.dotnet/tools/dotnet-stack")
      if [[ -x $ds && -n $NODE_PID ]]; then
        local f="${TMPDIR:-/tmp}/imagebin-scaleout-stack-$b-$(date +%H%M%S).txt"
        timeout 60 "$ds" report -p "$NODE_PID" >"$f" 2>&1 && log "thread stacks of the stalled $b node: $f"
      fi
      return 0
    fi
    sleep 1
  done
  ((SECONDS - t0 > 1)) && log "$b: scan backlog done after $((SECONDS - t0)) s"
  return 0
}

DRAIN_STALLS=""
declare -A KEY ITEM_URL ITEM_ID SHA
setup_backend() { # embedded|scaleout: account + key, upload the test image, wait for its scan, check the bytes
  local b=$1; local json="$WORK/upload-$b.json" code id state i
  start_node "$b"
  ( node_env "$b"; dotnet "$DLL" accounts create bench --password 'bench password that is long enough' ) \
    >"$WORK/account-$b.log" 2>&1 || { cat "$WORK/account-$b.log" >&2; die "accounts create ($b) failed"; }
  KEY[$b]=$( ( node_env "$b"; dotnet "$DLL" keys create --account bench --scopes image:create,image:read,image:delete ) \
    2>"$WORK/key-$b.err" | tail -n1)
  [[ ${KEY[$b]} == pbca_live_* ]] || { cat "$WORK/key-$b.err" >&2; die "keys create ($b) printed no key: ${KEY[$b]}"; }
  code=$(curl -sS -m 60 -o "$json" -w '%{http_code}' -X POST -H "Authorization: Bearer ${KEY[$b]}" \
    -H 'Content-Type: image/jpeg' --data-binary @"$IMG" "${BASE[$b]}/api/v1/items")
  [[ $code == 201 ]] || { cat "$json" >&2; die "upload ($b) answered $code"; }
  id=$(jq -r .id "$json"); ITEM_ID[$b]=$id; ITEM_URL[$b]=$(jq -r .direct_url "$json")
  for i in $(seq 300); do
    state=$(curl -sS -m 10 -H "Authorization: Bearer ${KEY[$b]}" "${BASE[$b]}/api/v1/items/$id" | jq -r .scan_state)
    [[ $state == passed ]] && break
    [[ $state == pending || $state == scanning ]] || die "item $id ($b) scan_state=$state"
    ((i == 300)) && die "item $id ($b) not passed after 30 s"
    sleep 0.1
  done
  code=$(curl -sS -m 60 -o "$WORK/dl-$b.bin" -D "$WORK/dl-$b.hdr" -w '%{http_code}' "${ITEM_URL[$b]}")
  [[ $code == 200 ]] || die "GET ${ITEM_URL[$b]} ($b) answered $code"
  SHA[$b]=$(sha256sum "$WORK/dl-$b.bin" | cut -d' ' -f1)
  log "$b: ${BASE[$b]}, item $id, ${ITEM_URL[$b]} ($(stat -c %s "$WORK/dl-$b.bin") bytes served, sha256 ${SHA[$b]:0:12}…)"
  stop_node
}
setup_backend embedded
setup_backend scaleout
[[ ${SHA[embedded]} == "${SHA[scaleout]}" ]] || die "the two backends store different bytes for the same upload"
STORED_SIZE=$(stat -c %s "$WORK/dl-embedded.bin")

# The object in the bucket, for a reference run straight against RGW (no node)
S3_AUTH=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$IMAGEBIN_TEST_S3_ACCESS_KEY:$IMAGEBIN_TEST_S3_SECRET_KEY"
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
S3_KEY=$(curl -fsS -m 60 "${S3_AUTH[@]}" "$IMAGEBIN_TEST_S3_URL/$BUCKET?list-type=2" \
  | grep -o "<Key>[^<]*${SHA[scaleout]}</Key>" | sed 's/<Key>\(.*\)<\/Key>/\1/' | head -1)
[[ -n $S3_KEY ]] || die "object of ${SHA[scaleout]} not found in bucket $BUCKET"
S3_OBJECT_URL="$IMAGEBIN_TEST_S3_URL/$BUCKET/$S3_KEY"
# A SigV4-signed GET stays valid for 15 minutes (clock skew window), so wrk can replay curl's signed headers.
sign_rgw_get() { # -> sets RGW_HDRS (wrk -H arguments)
  local hdrs
  hdrs=$(curl -sS -m 60 -v -o "$WORK/rgw.bin" "${S3_AUTH[@]}" "$S3_OBJECT_URL" 2>&1 | tr -d "\r" | grep -iE "^> (authorization|x-amz-date|x-amz-content-sha256): " | sed "s/^> //")
  cmp -s "$WORK/rgw.bin" "$WORK/dl-scaleout.bin" || die "RGW serves other bytes than the node for $S3_KEY"
  RGW_HDRS=()
  while IFS= read -r h; do RGW_HDRS+=(-H "$h"); done <<<"$hdrs"
  ((${#RGW_HDRS[@]} == 6)) || die "could not capture curl's signed headers"
}

# ---------------------------------------------------------------- direct GET, alternating backends
GET_RAW="$WORK/get.md"; : >"$GET_RAW"
declare -A GET_BEST
run_get() { # label url node-pid-or-empty
  local label=$1 url=$2 pid=$3; shift 3
  local out="$WORK/wrk-get-$label-$ROUND.txt" n0 n1 s0 s1 m0 m1 w0 w1 rps reqs p50 p99 node_us svc_us other bad
  local svc; svc=$(svc_pids | tr '\n' ' ')
  wait_quiet
  wrk -t1 -c32 -d"$WARMUP" "$@" "$url" >/dev/null
  # shellcheck disable=SC2086
  n0=$(cpu_ticks $pid); s0=$(cpu_ticks $svc); m0=$(machine_busy); w0=$(date +%s.%N)
  { time wrk -t1 -c32 -d"$DURATION" --timeout 10s --latency "$@" "$url" >"$out"; } 2>"$out.time"
  # shellcheck disable=SC2086
  n1=$(cpu_ticks $pid); s1=$(cpu_ticks $svc); m1=$(machine_busy); w1=$(date +%s.%N)
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  reqs=$(awk '/requests in/ {print $1}' "$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' "$out")")
  if [[ -n $pid ]]; then node_us=$(awk -v d=$((n1 - n0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN{ printf "%.0f", d / hz * 1e6 / n }'); else node_us="–"; fi
  svc_us=$(awk -v d=$((s1 - s0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN{ printf "%.0f", d / hz * 1e6 / n }')
  TIMEFORMAT='%U %S'
  other=$(awk -v m=$((m1 - m0)) -v srv=$((n1 - n0 + s1 - s0)) -v hz="$CLK_TCK" -v w="$(cat "$out.time")" -v t0="$w0" -v t1="$w1" \
    'BEGIN{ split(w, a, " "); o = (m - srv) / hz - a[1] - a[2]; if (o < 0) o = 0; printf "%.0f", 100 * o / (t1 - t0) }')
  bad=$(grep -E 'Non-2xx|Socket errors' "$out" | tr -s ' ' | tr '\n' ';' || true)
  log "GET $label round $ROUND: $rps req/s, p50 $p50 ms, p99 $p99 ms, node $node_us µs/req, services $svc_us µs/req, other $other%${bad:+, $bad}"
  echo "| $ROUND | ${LABEL[$label]} | $rps | $p50 | $p99 | $node_us | $svc_us | $other | ${bad:-} |" >>"$GET_RAW"
  if [[ -z ${GET_BEST[$label]:-} ]] || awk -v a="$rps" -v b="${GET_BEST[$label]%% *}" 'BEGIN{exit !(a>b)}'; then
    GET_BEST[$label]="$rps $p50 $p99 $ROUND"
  fi
}
TIMEFORMAT='%U %S'
for ROUND in $(seq "$ROUNDS"); do
  for v in embedded embedded-noinline scaleout scaleout-nocache; do
    start_node "$v"
    run_get "$v" "${ITEM_URL[${v%%-*}]}" "$NODE_PID"
    stop_node
  done
  sign_rgw_get
  run_get "RGW direct" "$S3_OBJECT_URL" "" "${RGW_HDRS[@]}"
done

# ---------------------------------------------------------------- uploads, alternating backends
UP_RAW="$WORK/up.md"; : >"$UP_RAW"
declare -A UP_BEST
export UPLOAD_FILE="$IMG"
for ROUND in $(seq "$ROUNDS"); do
  for b in embedded scaleout; do
    start_node "$b"
    drain_jobs "$b"
    wait_quiet
    export UPLOAD_KEY="${KEY[$b]}"
    url="${BASE[$b]}/api/v1/items"
    wrk -t2 -c8 -d"$WARMUP" -s "$BENCH_DIR/upload.lua" "$url" >"$WORK/wrk-up-warm-$b-$ROUND.txt"
    out="$WORK/wrk-up-$b-$ROUND.txt"
    t0=$(cpu_ticks "$NODE_PID")
    wrk -t2 -c8 -d"$DURATION" --timeout 10s --latency -s "$BENCH_DIR/upload.lua" "$url" >"$out"
    t1=$(cpu_ticks "$NODE_PID")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    reqs=$(awk '/requests in/ {print $1}' "$out")
    read -r p50 p90 p99 < <(awk '/^PCTL_US/ { for (i = 2; i <= 4; i++) { sub(/^p[0-9]+=/, "", $i); printf "%.2f ", $i / 1000 } print "" }' "$out")
    statuses=$(awk '/^STATUSES/ {$1=""; sub(/^ /,""); print}' "$out")
    bad=$(grep -E 'Non-2xx|Socket errors' "$out" | tr -s ' ' | tr '\n' ';' || true)
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN{ printf "%.0f", d / hz * 1e6 / n }')
    log "upload $b round $ROUND: $rps/s, p50 $p50 ms, p99 $p99 ms, node $cpu µs/upload, $statuses ${bad}"
    echo "| $ROUND | ${LABEL[$b]} | $rps | $p50 | $p90 | $p99 | $cpu | $statuses${bad:+ ($bad)} |" >>"$UP_RAW"
    if [[ -z ${UP_BEST[$b]:-} ]] || awk -v a="$rps" -v c="${UP_BEST[$b]%% *}" 'BEGIN{exit !(a>c)}'; then
      UP_BEST[$b]="$rps $p50 $p99 $ROUND"
    fi
    # Stopping a node mid-scan leaves its jobs leased (Jobs:LeaseSeconds, 300 s) until another claim: let it finish them.
    drain_jobs "$b"
    stop_node
  done
done

# ---------------------------------------------------------------- list with ITEMS items
LIST_RAW="$WORK/list.md"; : >"$LIST_RAW"
LIST_NOTES="$WORK/list-notes.md"; : >"$LIST_NOTES"
# Items b000000000001 … with created_at 1.6e12 + n*1000 (distinct, increasing), all pointing at the uploaded blob.
# The newest seeded item is older than the uploaded ones, so page 1 holds uploads first.
SEED_BASE=1600000000000
seed_id() { printf 'b%012x' "$1"; }
b64url() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }

seed_postgres() {
  local owner
  owner=$(psql_db "$PG_DB" -c "SELECT id FROM accounts WHERE name = 'bench'")
  psql_db "$PG_DB" <<SQL
BEGIN;
UPDATE blobs SET ref_count = ref_count + $ITEMS WHERE sha256 = '${SHA[scaleout]}';
INSERT INTO items (id, owner_id, blob_sha256, content_type, extension, size_bytes, width, height, frames, tags, private,
                   created_at, downloads, scan_state, classification, ai_caption_state, ai_tags, ai_opt_out)
SELECT 'b' || lpad(to_hex(n), 12, '0'), '$owner', '${SHA[scaleout]}', 'image/jpeg', 'jpg', $STORED_SIZE, 768, 512, 1, '',
       false, $SEED_BASE + n * 1000, 0, 'passed', 'safe', 'pending', '', false
FROM generate_series(1, $ITEMS) AS n;
COMMIT;
ANALYZE items;
SQL
}

seed_sqlite() { # node stopped
  local db="$EMB_DATA/imagebin.db" owner
  owner=$(sqlite3 -cmd '.timeout 5000' "$db" "SELECT id FROM accounts WHERE name = 'bench'")
  sqlite3 -cmd '.timeout 5000' "$db" <<SQL
PRAGMA synchronous = OFF;
BEGIN;
UPDATE blobs SET ref_count = ref_count + $ITEMS WHERE sha256 = '${SHA[embedded]}';
WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $ITEMS)
INSERT INTO items (id, owner_id, blob_sha256, content_type, extension, size_bytes, width, height, frames, tags, private,
                   created_at, downloads, scan_state, classification, ai_caption_state, ai_tags, ai_opt_out)
SELECT printf('b%012x', n), '$owner', '${SHA[embedded]}', 'image/jpeg', 'jpg', $STORED_SIZE, 768, 512, 1, '',
       0, $SEED_BASE + n * 1000, 0, 'passed', 'safe', 'pending', '', 0
FROM s;
COMMIT;
ANALYZE;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
}

declare -A LIST_P95
run_list() { # backend store-label
  local b=$1 store=$2 mid mid_prev cursor name query url out json code count first rps p50 p95 p99 max statuses bad t0 t1 cpu reqs ok
  mid=$((ITEMS / 2)); mid_prev=$((mid - 1))
  cursor=$(b64url "$((SEED_BASE + mid * 1000)).$(seed_id "$mid")")
  local names=("first page" "deep page (cursor at item $mid of $ITEMS)" "classification=safe" "classification=explicit (no match)")
  local queries=("" "?cursor=$cursor" "?classification=safe" "?classification=explicit")
  export LIST_KEY="${KEY[$b]}"
  for i in "${!names[@]}"; do
    name=${names[$i]}; query=${queries[$i]}; url="${BASE[$b]}/api/v1/account/items$query"
    json="$WORK/list-$b-$i.json"
    code=$(curl -sS -m 120 -o "$json" -w '%{http_code} %{time_total}' -H "Authorization: Bearer ${KEY[$b]}" "$url" || echo "000 timeout")
    if [[ ${code%% *} != 200 ]]; then
      log "list $store $name: one request answered ${code%% *} after ${code#* } s: not measured"; head -c 300 "$json" >&2 || true
      echo "| $store | $name | – | – | – | – | – | – | – | one request answered ${code%% *} after ${code#* } s | **not met** |" >>"$LIST_RAW"
      continue
    fi
    count=$(jq '.items | length' "$json"); first=$(jq -r '.items[0].id // "none"' "$json")
    if ((i == 1)) && [[ $first != "$(seed_id "$mid_prev")" ]]; then die "deep page ($b) starts at $first, not $(seed_id "$mid_prev")"; fi
    log "list $store $name: $count items, first $first, one request ${code#* } s"
    wait_quiet
    wrk -t1 -c8 -d"$WARMUP" --timeout 30s -s "$BENCH_DIR/list.lua" "$url" >/dev/null
    out="$WORK/wrk-list-$b-$i.txt"
    t0=$(cpu_ticks "$NODE_PID")
    wrk -t1 -c8 -d"$DURATION" --timeout 30s -s "$BENCH_DIR/list.lua" "$url" >"$out"
    t1=$(cpu_ticks "$NODE_PID")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out"); reqs=$(awk '/requests in/ {print $1}' "$out")
    read -r p50 p95 p99 max < <(awk '/^PCTL_US/ { for (i = 2; i <= 6; i++) { split($i, kv, "="); v[i] = kv[2] / 1000 } printf "%.2f %.2f %.2f %.2f\n", v[2], v[4], v[5], v[6] }' "$out")
    statuses=$(awk '/^STATUSES/ {$1=""; sub(/^ /,""); print}' "$out")
    bad=$(grep -E 'Non-2xx|Socket errors' "$out" | tr -s ' ' | tr '\n' ';' || true)
    cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN{ if (n > 0) printf "%.0f", d / hz * 1e6 / n; else print "–" }')
    if awk -v a="$p95" 'BEGIN{exit !(a <= 20)}'; then ok=met; else ok="**not met**"; fi
    log "list $store $name: $rps req/s, p50 $p50 ms, p95 $p95 ms, p99 $p99 ms, node $cpu µs/req, $statuses ${bad}"
    echo "| $store | $name | $count | $rps | $p50 | $p95 | $p99 | $max | $cpu | $statuses${bad:+ ($bad)} | $ok |" >>"$LIST_RAW"
  done
}

LIST_DONE=""
if [[ ${SKIP_LIST:-0} != 1 ]]; then
  log "seeding $ITEMS items into PostgreSQL"
  t0=$SECONDS; seed_postgres; SEED_PG_S=$((SECONDS - t0))
  PG_ITEMS_SIZE=$(psql_db "$PG_DB" -c "SELECT pg_size_pretty(pg_total_relation_size('items'))")
  log "PostgreSQL seeded in $SEED_PG_S s (items: $PG_ITEMS_SIZE with indexes)"
  start_node scaleout
  drain_jobs scaleout
  run_list scaleout PostgreSQL
  stop_node
  LIST_DONE="PostgreSQL"
  echo "- PostgreSQL: seeded with one \`INSERT … SELECT … FROM generate_series(1, $ITEMS)\` + \`ANALYZE items\` in $SEED_PG_S s; table + indexes $PG_ITEMS_SIZE." >>"$LIST_NOTES"
  if [[ ${SKIP_SQLITE_LIST:-0} != 1 ]]; then
    # the upload rounds left scans queued on the embedded node: finish them before the node stops for seeding
    start_node embedded
    drain_jobs embedded
    stop_node
    log "seeding $ITEMS items into SQLite ($EMB_DATA/imagebin.db, node stopped)"
    t0=$SECONDS; seed_sqlite; SEED_SQ_S=$((SECONDS - t0))
    SQ_SIZE=$(du -h "$EMB_DATA/imagebin.db" | cut -f1)
    log "SQLite seeded in $SEED_SQ_S s (database file $SQ_SIZE)"
    start_node embedded
    run_list embedded SQLite
    stop_node
    LIST_DONE+=" and SQLite"
    echo "- SQLite $(sqlite3 --version | awk '{print $1}') (CLI, for seeding): a recursive CTE \`INSERT … SELECT\` into the stopped node's \`imagebin.db\`, then \`ANALYZE\` and a WAL checkpoint, in $SEED_SQ_S s; database file $SQ_SIZE." >>"$LIST_NOTES"
  fi
fi

# ---------------------------------------------------------------- BENCHMARKS.md section
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "–" }'; }
read -r E_RPS _ <<<"${GET_BEST[embedded]}"
GET_SUMMARY=$(for v in embedded embedded-noinline scaleout scaleout-nocache "RGW direct"; do
  read -r rps p50 p99 r <<<"${GET_BEST[$v]}"
  echo "| ${LABEL[$v]} | $rps | $p50 | $p99 | $(ratio "$rps" "$E_RPS") | $r |"
done)
read -r EU_RPS EU_P50 EU_P99 EU_R <<<"${UP_BEST[embedded]}"
read -r SU_RPS SU_P50 SU_P99 SU_R <<<"${UP_BEST[scaleout]}"
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
ELAPSED=$(( $(date +%s) - T_START ))

SECTION="$WORK/section.md"
cat >"$SECTION" <<EOF
<!-- scaleout:begin -->
## Scale-out: embedded (SQLite + files) against PostgreSQL + Ceph RGW, one node each

Written by \`bench/scaleout.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $((ELAPSED / 60)) min $((ELAPSED % 60)) s; see [README.md](README.md).

- Machine: $(nproc) cores, ${CPU_MODEL:-unknown CPU}, Linux $(uname -r), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM
- Imagebin: commit $COMMIT$( ((DIRTY)) && echo " plus $DIRTY uncommitted file(s) under src/") when the run started (dll built $BUILT_AT), Release build, \`Logging__LogLevel__Default=Warning\`, otherwise defaults.
  **embedded**: SQLite + blob files in a temp \`Imagebin__DataDir\`. **scale-out**: \`Database__Provider=Postgres\`
  (a fresh database), \`Storage__Provider=S3\` (a fresh bucket, \`ForcePathStyle=true\`, \`RedirectReads\` off, so a direct
  GET of a blob in the node's local cache (\`Storage:S3:LocalCacheBytes\`, default 1 GiB) is read from that cache, and
  with the cache off it streams the object from RGW through the node), as in [docs/scale-out.md](../docs/scale-out.md).
  Scale-out nodes run with \`${SCALEOUT_ENV:-(nothing extra)}\`: with the default \`Serving:InlineIo=true\` a scale-out
  node hung in these runs (the AWS SDK reads S3 XML responses synchronously on a socket engine thread, which waits
  for itself; /healthz, PostgreSQL connects and uploads then time out; since 49dbbe5 such nodes default to it off).
- Services (\`tests/services.sh\`, all on this machine): PostgreSQL $PG_VERSION (\`fsync=off\`, \`synchronous_commit=off\`),
  Ceph RGW $RGW_VERSION with one RAM-backed OSD (memstore), no replication. Both compete with the node and wrk for the 2 cores.
- Image: 768×512 JPEG made by \`vips\` (as \`bench/run.sh\`), $IMG_SIZE bytes uploaded, $STORED_SIZE stored and served.
- Only one Imagebin runs at a time: each measured run starts its node, and stops it afterwards.$( ((QUIET_WAITS)) && echo " The script waited $QUIET_WAITS time(s) for a test run on the machine to end before a measurement.")

### Commands

\`\`\`sh
ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP ITEMS=$ITEMS bench/scaleout.sh
# direct GET, per round: embedded, embedded with InlineIo off, scale-out, scale-out without its local blob cache,
# then RGW alone (the object, a SigV4-signed GET replayed by wrk)
wrk -t1 -c32 -d$WARMUP URL                                   # warm-up
wrk -t1 -c32 -d$DURATION --timeout 10s --latency URL          # URL = the item's direct_url
# uploads, per round and backend, after the previous rounds' scans have finished
UPLOAD_FILE=small.jpg UPLOAD_KEY=\$KEY wrk -t2 -c8 -d$DURATION --timeout 10s --latency -s bench/upload.lua http://127.0.0.1:PORT/api/v1/items
# list, per query, after a $WARMUP warm-up
LIST_KEY=\$KEY wrk -t1 -c8 -d$DURATION --timeout 30s -s bench/list.lua 'http://127.0.0.1:PORT/api/v1/account/items?…'
\`\`\`

CPU columns are utime + stime from \`/proc/PID/stat\` over the measured run divided by the requests completed: the node,
and the services (radosgw, ceph-osd, ceph-mon and all PostgreSQL processes; on the embedded runs they idle). "Other load" is the
rest of the machine's busy time minus wrk's own, in % of a core.

### Direct GET, 200 KB, 32 connections

| backend | req/s | p50 (ms) | p99 (ms) | ratio to embedded | best of round |
|---|---:|---:|---:|---:|---:|
$GET_SUMMARY

Every round:

| round | target | req/s | p50 (ms) | p99 (ms) | node CPU (µs/req) | services CPU (µs/req) | other load (%) | errors |
|---:|---|---:|---:|---:|---:|---:|---:|---|
$(cat "$GET_RAW")

### Upload, 200 KB JPEG, 8 connections

| backend | uploads/s | p50 (ms) | p99 (ms) | ratio to embedded | best of round |
|---|---:|---:|---:|---:|---:|
| ${LABEL[embedded]} | $EU_RPS | $EU_P50 | $EU_P99 | 1.00 | $EU_R |
| ${LABEL[scaleout]} | $SU_RPS | $SU_P50 | $SU_P99 | $(ratio "$SU_RPS" "$EU_RPS") | $SU_R |

Every round (the same bytes every time, so every upload after the first deduplicates to one blob; the scans of the
uploaded items run in the background during the measurement, as in service):

| round | backend | uploads/s | p50 (ms) | p90 (ms) | p99 (ms) | node CPU (µs/upload) | responses |
|---:|---|---:|---:|---:|---:|---:|---|
$(cat "$UP_RAW")
EOF
if [[ -n $LIST_DONE ]]; then
  cat >>"$SECTION" <<EOF

### List \`GET /api/v1/account/items\` with $ITEMS items in the account ($LIST_DONE)

DESIGN §15 target: p95 ≤ 20 ms on SQLite and on PostgreSQL. Default page size (50), 8 connections, $DURATION each.
The items are seeded in SQL (all \`passed\`, \`safe\`, public, pointing at the uploaded blob, \`created_at\` one second
apart); the deep page's cursor is built from the middle item (\`base64url("created_at.id")\`, the format of
\`ListCursor\`) and checked to start at the next older item. "no match" asks for a classification no item has: the
worst case for a filter the index does not cover.

| store | request | items returned | req/s | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | node CPU (µs/req) | responses | p95 ≤ 20 ms |
|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|
$(cat "$LIST_RAW")

$(cat "$LIST_NOTES")
EOF
else
  printf '\n(The list part was skipped: SKIP_LIST=1.)\n' >>"$SECTION"
fi
# warnings and errors the nodes logged (the first-run admin notice holds a password and is expected)
for b in embedded scaleout; do
  awk '/^(trce|dbug|info|warn|fail|crit): / { keep = ($0 ~ /^(warn|fail|crit)/ && $0 !~ /FirstRunAdmin/); n = 0 } keep && n++ < 3' \
    "$WORK/node-$b.log" >"$WORK/problems-$b.txt"
  n=$(grep -cE '^(warn|fail|crit): ' "$WORK/problems-$b.txt" || true)
  if ((n)); then
    { printf '\n**The %s node logged %s warning/error entries**; the first ones:\n\n```\n' "$b" "$n"
      head -20 "$WORK/problems-$b.txt"; printf '```\n'; } >>"$SECTION"
    log "WARNING: $n warning/error entries in the $b node's log"
  fi
done
if [[ -n $DRAIN_STALLS ]]; then
  printf '\n**Background scans stalled** (\`SELECT count(*) FROM jobs WHERE state IN (queued, running)\` did not reach 0):\n\n%s' "$DRAIN_STALLS" >>"$SECTION"
fi
echo "<!-- scaleout:end -->" >>"$SECTION"

write_section scaleout "$SECTION"
log "wrote the scale-out section of $OUT (the whole run took $((ELAPSED / 60)) min $((ELAPSED % 60)) s)"
cat "$SECTION"
