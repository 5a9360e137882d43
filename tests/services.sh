#!/usr/bin/env bash
# Throwaway PostgreSQL 15, single-node Ceph RADOS Gateway (S3) and ClamAV clamd on free loopback ports, for the tests and
# benchmarks.
#
#   tests/services.sh start STATE_DIR   install what is missing, start all three, wait until they answer, write STATE_DIR/env
#   tests/services.sh stop  STATE_DIR   stop what start started (by its PID files); safe to run twice
#
# STATE_DIR/env holds export lines (IMAGEBIN_TEST_POSTGRES, IMAGEBIN_TEST_S3_URL, IMAGEBIN_TEST_S3_ACCESS_KEY,
# IMAGEBIN_TEST_S3_SECRET_KEY, IMAGEBIN_TEST_CLAMD (tcp://), IMAGEBIN_TEST_CLAMD_SOCKET (unix://)): `. STATE_DIR/env`.
# Everything, data and logs, lives under STATE_DIR; nothing else on the machine is touched except installing packages.
# PostgreSQL and Ceph trade durability for speed (fsync off, a RAM-backed OSD); clamd knows only the test signatures of
# tests/clamav/ (freshclam is never run).
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
CLAMAV_SIGNATURES=$(cd "$(dirname "${BASH_SOURCE[0]}")/clamav" && pwd)
# Above Imagebin's 25 MiB upload limit (Limits:MaxUploadBytes), so any accepted upload can be scanned.
CLAMD_STREAM_MAX=30M
S3_ACCESS_KEY=imagebin
S3_SECRET_KEY=imagebin-secret
S3_USER=imagebin

usage() {
  echo "usage: $0 start|stop STATE_DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
command=$1
state=$2
case "$command" in start | stop) ;; *) usage ;; esac

say() { echo "services.sh: $*" >&2; }

# ---------------------------------------------------------------------------------------------------------------- stop

# Ends the process in PID_FILE if it is still the program named (a reused PID is left alone), then forgets it;
# SIGKILL after GRACE seconds.
stop_pid_file() {
  local pid_file=$1 program=$2 signal=$3 grace=$4 pid i
  [ -f "$pid_file" ] || return 0
  pid=$(cat "$pid_file")
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$program"; then
    kill "-$signal" "$pid" 2>/dev/null || true
    for i in $(seq 1 $((grace * 10))); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$pid_file"
}

stop_all() {
  # The gateway first (it holds client sessions to the cluster), then the OSD, whose memstore would otherwise spend
  # time saving RAM to disk on a clean shutdown that nobody will read, then the monitor.
  stop_pid_file "$state/clamd.pid" clamd TERM 10
  stop_pid_file "$state/radosgw.pid" radosgw TERM 3
  stop_pid_file "$state/ceph-osd.pid" ceph-osd KILL 5
  stop_pid_file "$state/ceph-mon.pid" ceph-mon TERM 10
  if [ -f "$state/postgres.pid" ]; then
    if [ -f "$state/postgres/data/postmaster.pid" ]; then
      runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$state/postgres/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    stop_pid_file "$state/postgres.pid" postgres TERM 10
  fi
}

if [ "$command" = stop ]; then
  [ -d "$state" ] || exit 0
  state=$(cd "$state" && pwd)
  stop_all
  exit 0
fi

# --------------------------------------------------------------------------------------------------------------- start

mkdir -p "$state"
state=$(cd "$state" && pwd)
started=0
current_log=""

on_exit() {
  local code=$?
  if [ "$started" -ne 1 ]; then
    if [ -n "$current_log" ] && [ -f "$current_log" ]; then
      say "last lines of $current_log:"
      tail -n 40 "$current_log" >&2
    fi
    stop_all
    [ "$code" -eq 0 ] && code=1
  fi
  exit "$code"
}
trap on_exit EXIT

fail() {
  say "$*"
  exit 1
}

# Leftovers of an earlier start in the same directory are stopped and wiped: every start is a fresh cluster.
stop_all
rm -rf "$state/postgres" "$state/ceph" "$state/clamav" "$state/env"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Installs the packages that are missing; reads the package lists again only when an install fails without them.
ensure_packages() {
  local missing=() package
  for package in "$@"; do
    installed "$package" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  current_log="$state/apt.log"
  say "installing ${missing[*]} (log: $current_log)"
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start their own system-wide services (a PostgreSQL on 5432, a Ceph cluster, clamd and a freshclam
  # that would try to download signatures): only the throwaway ones below run. policy-rc.d is Debian's switch for that;
  # it is only added when nobody set one.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
  fi
  local ok=0
  if apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$current_log" 2>&1; then
    ok=1
  elif apt-get update -q >>"$current_log" 2>&1 &&
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$current_log" 2>&1; then
    ok=1
  fi
  [ "$added_policy" -eq 1 ] && rm -f "$policy"
  [ "$ok" -eq 1 ] || fail "could not install ${missing[*]}"
}

ensure_packages postgresql curl ceph-mon ceph-osd radosgw clamav clamav-daemon

# Ports below Linux's ephemeral range (32768+), so an outgoing connection cannot take one between the check and the bind.
taken_ports=" "
free_port() {
  local port i
  for i in $(seq 1 500); do
    port=$((20000 + RANDOM % 12000))
    case "$taken_ports" in *" $port "*) continue ;; esac
    if [ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] && ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      taken_ports+="$port "
      REPLY=$port
      return 0
    fi
  done
  fail "no free port found"
}

# Waits up to SECONDS for COMMAND to succeed; the failing log is printed by on_exit.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "$what not ready after ${seconds}s"
    sleep 0.2
  done
}

# Starts a daemon in the foreground of its own session, so it outlives this script, and records its PID.
spawn() {
  local name=$1
  shift
  setsid "$@" >"$state/$name.out" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
}

alive() { [ -d "/proc/$(cat "$state/$1.pid")" ]; }

# ---------------------------------------------------------------------------------------------------------- PostgreSQL

# initdb refuses root, so the cluster belongs to the postgres user, which must be able to reach STATE_DIR.
chmod o+x "$state"
runuser -u postgres -- test -x "$state" ||
  fail "the postgres user cannot enter $state: every parent directory needs o+x (use a directory under /tmp)"
pg_dir="$state/postgres"
mkdir -p "$pg_dir"
chown postgres:postgres "$pg_dir"
chmod 700 "$pg_dir"
free_port
pg_port=$REPLY
current_log="$pg_dir/initdb.log"
runuser -u postgres -- "$PG_BIN/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
  >"$current_log" 2>&1 || fail "initdb failed"
current_log="$pg_dir/postgres.log"
# A test suite makes a database per test and runs tests in parallel: room for many connections.
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$current_log" -w -t 60 \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  start >/dev/null || fail "PostgreSQL did not start"
head -1 "$pg_dir/data/postmaster.pid" >"$state/postgres.pid"
wait_for 30 PostgreSQL "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$pg_port"
say "PostgreSQL on 127.0.0.1:$pg_port"

# -------------------------------------------------------------------------------------------------------------- ClamAV

# clamd in the foreground of its own session (so spawn's PID is clamd's), as root, with a copy of the test signatures: it
# refuses to start on an empty database, and nothing is downloaded. The unix socket sits beside the TCP one so that both
# kinds of endpoint can be tested.
clam_dir="$state/clamav"
mkdir -p "$clam_dir/db" "$clam_dir/tmp"
cp "$CLAMAV_SIGNATURES"/*.hdb "$CLAMAV_SIGNATURES"/*.ndb "$clam_dir/db/"
clam_socket="$clam_dir/clamd.sock"
# sun_path holds 107 bytes and a NUL.
[ ${#clam_socket} -lt 108 ] || fail "the clamd socket path $clam_socket is too long for a unix socket: use a shorter STATE_DIR"
free_port
clam_port=$REPLY
cat >"$clam_dir/clamd.conf" <<EOF
Foreground yes
TCPAddr 127.0.0.1
TCPSocket $clam_port
LocalSocket $clam_socket
LocalSocketMode 666
DatabaseDirectory $clam_dir/db
TemporaryDirectory $clam_dir/tmp
LogFile $clam_dir/clamd.log
LogTime yes
LogVerbose no
StreamMaxLength $CLAMD_STREAM_MAX
SelfCheck 0
EOF

clamd_pong() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$clam_port" || return 1
  printf 'zPING\0' >&3
  IFS= read -r -t 5 -d '' reply <&3 || { exec 3>&-; return 1; }
  exec 3>&-
  [ "$reply" = PONG ]
}

# libclamav's own errors (e.g. a database it cannot load) reach only clamd's stdout; LogFile has the rest.
current_log="$state/clamd.out"
clam_started=$(date +%s%N)
spawn clamd clamd -c "$clam_dir/clamd.conf"
clam_deadline=$((SECONDS + 30))
until clamd_pong 2>/dev/null; do
  alive clamd || fail "clamd exited (its log: $clam_dir/clamd.log)"
  [ $SECONDS -lt $clam_deadline ] || fail "clamd not ready after 30s (its log: $clam_dir/clamd.log)"
  sleep 0.05
done
[ -S "$clam_socket" ] || fail "clamd has no unix socket at $clam_socket"
clam_ms=$((($(date +%s%N) - clam_started) / 1000000))
say "ClamAV clamd on tcp://127.0.0.1:$clam_port and unix://$clam_socket (ready in ${clam_ms} ms)"

# ------------------------------------------------------------------------------------------------------------ Ceph RGW

ceph_dir="$state/ceph"
conf="$ceph_dir/ceph.conf"
mkdir -p "$ceph_dir"/{mon,osd/0,run,log,rgw}
fsid=$(cat /proc/sys/kernel/random/uuid)
free_port
mon_port=$REPLY
free_port
rgw_port=$REPLY

# One monitor and one RAM-backed OSD, no cephx, no replication. Without the six crc modes (no secure mode to
# negotiate without keys) the gateway waits 300 s on authentication.
cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_port]
public addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms cluster mode = crc
ms service mode = crc
ms client mode = crc
ms mon cluster mode = crc
ms mon service mode = crc
ms mon client mode = crc
keyring = $ceph_dir/keyring
run dir = $ceph_dir/run
log file = $ceph_dir/log/\$name.log
admin socket = $ceph_dir/run/\$name.asok
mon data = $ceph_dir/mon/\$id
osd data = $ceph_dir/osd/\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $ceph_dir/rgw
EOF

current_log="$ceph_dir/setup.log"
ceph_cli() { timeout 30 ceph -c "$conf" --connect-timeout 10 "$@"; }

monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$ceph_dir/monmap" >>"$current_log" 2>&1 ||
  fail "monmaptool failed"
ceph-authtool --create-keyring "$ceph_dir/keyring" --gen-key -n mon. --cap mon 'allow *' >>"$current_log" 2>&1 ||
  fail "ceph-authtool failed"
ceph-mon -c "$conf" --mkfs -i a --monmap "$ceph_dir/monmap" >>"$current_log" 2>&1 || fail "ceph-mon --mkfs failed"
current_log="$ceph_dir/log/mon.a.log"
spawn ceph-mon ceph-mon -c "$conf" -i a -f
wait_for 30 "the Ceph monitor" ceph_cli mon stat
alive ceph-mon || fail "the Ceph monitor exited"

current_log="$ceph_dir/setup.log"
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_id=$(ceph_cli osd new "$osd_uuid" 2>>"$current_log") || fail "ceph osd new failed"
[ "$osd_id" = 0 ] || fail "expected OSD id 0, got '$osd_id'"
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$current_log" 2>&1 || fail "ceph-osd --mkfs failed"
current_log="$ceph_dir/log/osd.0.log"
spawn ceph-osd ceph-osd -c "$conf" -i 0 -f
osd_up() { ceph_cli osd dump 2>/dev/null | grep -q '^osd\.0 up'; }
wait_for 60 "the Ceph OSD" osd_up
alive ceph-osd || fail "the Ceph OSD exited"

current_log="$ceph_dir/log/client.rgw.a.log"
spawn radosgw radosgw -c "$conf" -n client.rgw.a -f
wait_for 90 "the RADOS Gateway" curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$rgw_port/"
alive radosgw || fail "the RADOS Gateway exited"

current_log="$ceph_dir/setup.log"
timeout 60 radosgw-admin -c "$conf" user create --uid "$S3_USER" --display-name "Imagebin tests" \
  --access-key "$S3_ACCESS_KEY" --secret-key "$S3_SECRET_KEY" >>"$current_log" 2>&1 || fail "radosgw-admin user create failed"
# A signed request proves the gateway sees the user (it caches users, so this is also what the tests will hit first).
# The gateway wants the payload hash header that curl only signs when it is given.
wait_for 30 "the S3 user" curl -fsS -o /dev/null --max-time 5 --aws-sigv4 "aws:amz:us-east-1:s3" \
  --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "http://127.0.0.1:$rgw_port/"
say "Ceph RGW (S3) on http://127.0.0.1:$rgw_port"

cat >"$state/env" <<EOF
export IMAGEBIN_TEST_POSTGRES="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=postgres"
export IMAGEBIN_TEST_S3_URL="http://127.0.0.1:$rgw_port"
export IMAGEBIN_TEST_S3_ACCESS_KEY="$S3_ACCESS_KEY"
export IMAGEBIN_TEST_S3_SECRET_KEY="$S3_SECRET_KEY"
export IMAGEBIN_TEST_CLAMD="tcp://127.0.0.1:$clam_port"
export IMAGEBIN_TEST_CLAMD_SOCKET="unix://$clam_socket"
export IMAGEBIN_TEST_SERVICES_DIR="$state"
EOF
started=1
