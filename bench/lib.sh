# shellcheck shell=bash
# What bench/run.sh, bench/scaleout.sh and bench/pipeline.sh share: logging, installing missing tools, free ports,
# stopping the node under test, CPU accounting, wrk's durations, the test JPEG, and the sections of BENCHMARKS.md.
# Sourced after the script has set BENCH_TAG (its log prefix); free_port and make_jpeg use $WORK, stop_node $NODE_PID.

log() { printf '[%s %s] %s\n' "$BENCH_TAG" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# install_missing command=package ...: installs, with apt-get, the packages of the commands that are not on the PATH
install_missing() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null || need+=("${pair#*=}")
  done
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

# a loopback TCP port nothing uses (in any state) and that this run has not handed out yet
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    if [[ -z $(ss -Htan "sport = :$p") ]] && ! grep -qx "$p" "$WORK/ports" 2>/dev/null; then
      echo "$p" >>"$WORK/ports"; echo "$p"; return
    fi
  done
  die "no free port"
}

# stops the Imagebin node of $NODE_PID: TERM, up to 10 s, then KILL
stop_node() {
  [[ -n ${NODE_PID:-} ]] || return 0
  kill -TERM "$NODE_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$NODE_PID" 2>/dev/null || true
  wait "$NODE_PID" 2>/dev/null || true
  NODE_PID=""
}

# utime+stime (clock ticks) summed over the given PIDs (those gone are skipped)
cpu_ticks() {
  local sum=0 pid rest
  for pid in "$@"; do
    rest=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue   # fields from 3 (state) on; comm may hold spaces
    # shellcheck disable=SC2086
    set -- $rest
    sum=$((sum + ${12} + ${13}))                                       # fields 14 and 15
  done
  echo "$sum"
}
# shellcheck disable=SC2034  # used by the scripts that source this file
CLK_TCK=$(getconf CLK_TCK)
machine_busy() { awk '$1=="cpu" {print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

to_ms() { # wrk duration like 812.00us / 1.23ms / 1.02s -> ms
  awk -v v="$1" 'BEGIN{ n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) ; else if (v ~ /m$/) n*=60000; else if (v ~ /s$/) n*=1000; printf "%.2f", n }'
}

make_noisy_srgb() { # width height out.v: a horizontal gradient with Gaussian noise, like a photo to the encoder
  local w=$1 h=$2 out=$3 d="$WORK/noise"; mkdir -p "$d"
  vips grey "$d/g.v" "$w" "$h"
  vips linear "$d/g.v" "$d/gl.v" 160 48              # gradient 48..208
  for c in r g b; do
    vips gaussnoise "$d/n$c.v" "$w" "$h" --sigma 32 --mean 0
    vips add "$d/gl.v" "$d/n$c.v" "$d/$c.v"
  done
  vips bandjoin "$d/r.v $d/g.v $d/b.v" "$d/rgb.v"
  vips cast "$d/rgb.v" "$d/rgbc.v" uchar
  vips copy "$d/rgbc.v" "$out" --interpretation srgb
  rm -f "$d"/*.v
}

make_jpeg() { # width height out: that picture as a Q85 JPEG
  make_noisy_srgb "$1" "$2" "$WORK/picture.v"
  vips jpegsave "$WORK/picture.v" "$3" --Q 85 --strip
  rm -f "$WORK/picture.v"
}

# make_jpeg_set count width height dir: count distinct JPEGs (dir/img-00.jpg …) of width×height, like make_jpeg's picture:
# one noise field (seeds 1, 2, 3 for R, G, B) of (width + 13·count)×(height + 13·count), each file cut from it at another
# offset (13·i, 13·i) and saved at Q85. Distinct bytes and pixels for a tenth of the cost of a noise field per file.
make_jpeg_set() {
  local n=$1 w=$2 h=$3 dir=$4 d="$WORK/noise" i
  local fw=$((w + 13 * n)) fh=$((h + 13 * n))
  mkdir -p "$d" "$dir"
  vips grey "$d/g.v" "$fw" "$fh"
  vips linear "$d/g.v" "$d/gl.v" 160 48
  for c in 1 2 3; do
    vips gaussnoise "$d/n$c.v" "$fw" "$fh" --sigma 32 --mean 0 --seed "$c"
    vips add "$d/gl.v" "$d/n$c.v" "$d/c$c.v"
    rm -f "$d/n$c.v"
  done
  vips bandjoin "$d/c1.v $d/c2.v $d/c3.v" "$d/rgb.v"
  rm -f "$d"/c?.v
  vips cast "$d/rgb.v" "$d/rgbc.v" uchar
  vips copy "$d/rgbc.v" "$d/field.v" --interpretation srgb
  rm -f "$d/rgb.v" "$d/rgbc.v"
  for ((i = 0; i < n; i++)); do
    vips crop "$d/field.v" "$dir/$(printf 'img-%02d.jpg' "$i")[Q=85,strip]" $((13 * i)) $((13 * i)) "$w" "$h"
  done
  rm -f "$d"/*.v
}

# wait_idle pid [max seconds]: until the process uses under 5 % of a core over a second (background jobs such as scans
# and captions done), at most max seconds (default 60); returns 1 when it never got idle
wait_idle() {
  local pid=$1 max=${2:-60} t0 t1
  for _ in $(seq "$max"); do
    t0=$(cpu_ticks "$pid"); sleep 1; t1=$(cpu_ticks "$pid")
    ((100 * (t1 - t0) < 5 * CLK_TCK)) && return 0
  done
  return 1
}

# summary < numbers (one a line): "min median p90" (nearest rank), with printf format fmt (default %.1f)
summary() {
  sort -g | awk -v f="${1:-%.1f}" '{ v[NR] = $1 } END {
    if (!NR) { print "- - -"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    r = int(0.9 * NR); if (r < 0.9 * NR) r++
    printf f " " f " " f "\n", v[1], m, v[r] }'
}

# write_section name file: puts the section (from <!-- name:begin --> to <!-- name:end -->) into $OUT in place of the
# one there, or appends it
write_section() {
  local name=$1 section=$2
  if [[ -f $OUT ]] && grep -q "^<!-- $name:begin -->\$" "$OUT"; then
    awk -v sec="$section" -v begin="<!-- $name:begin -->" -v end="<!-- $name:end -->" '
      $0 == begin { while ((getline line < sec) > 0) print line; skip = 1; next }
      $0 == end { skip = 0; next }
      !skip { print }' "$OUT" >"$WORK/out.md"
    cat "$WORK/out.md" >"$OUT"
  else
    { [[ -f $OUT ]] || printf '# Benchmarks\n'; printf '\n'; cat "$section"; } >>"$OUT"
  fi
}

# the other scripts' sections of $OUT (<!-- name:begin --> … <!-- name:end -->), for bench/run.sh to carry over
other_sections() {
  [[ -f $OUT ]] || return 0
  awk '/^<!-- [a-z]+:begin -->$/ { keep = 1 } keep { print } /^<!-- [a-z]+:end -->$/ { keep = 0; print "" }' "$OUT"
}
