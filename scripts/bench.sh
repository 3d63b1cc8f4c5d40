#!/usr/bin/env bash
# Whole-process benchmarks of nplc (docs/performance.md). Not part of the
# test run; run it by hand on a quiet machine:
#
#   scripts/bench.sh [--quick] [--runs N] [--kustomize-timeout SECONDS]
#                    [--no-matrix | --matrix-only | --review-only |
#                     --import-only]
#                    [--nca-timeout SECONDS]
#
# 1. builds `nplc` (release) and the corpus tool (benches/corpus_tool.rs);
# 2. generates the corpora (deterministic, seed 1) under $BENCH_DIR
#    (default target/bench): 1k, 10k and 100k statements at ten statements
#    per namespace (10k is the target corpus: 10k statements in 1k
#    namespaces), 10k with 0%, 10% and 30% denies (the others have 5%), and
#    one file of about 200 lines;
# 3. for each corpus, N runs (default 5; --quick: 1 run, no 100k) of
#      nplc check DIR                  (no output)
#      nplc build DIR -o OUT           into a fresh OUT (the previous one moved
#                                      aside, removed after all measurements)
#      nplc build DIR -o OUT           again, over the previous output
#      nplc build DIR -o TMPFS_OUT     into a fresh directory on tmpfs
#                                      (/dev/shm, where it exists): the
#                                      same work without the disk
#      nplc build DIR -o OUT --target cilium   (10k-deny0 and 10k-deny30 only)
#    keeping the fastest wall time and the largest peak RSS
#    (/usr/bin/time -v; wall time from bash's $EPOCHREALTIME);
# 4. in the same run, on the same output, the two baselines:
#      the serialization floor: the emitted objects, already in memory,
#        serialized to YAML and written as plain files into a fresh
#        directory (`corpus_tool floor`, best of N), on one thread and on
#        two cores
#      `kubectl kustomize OUT` where kubectl is installed (skipped with a
#        message otherwise; stopped after --kustomize-timeout, default 120 s);
# 5. `nplc matrix` (unless --no-matrix; --matrix-only skips 1-4 and 7): corpora
#    of 10, 20, 40, 80 and 415 namespaces (ten statements each) with a
#    generated cluster of one pod per workload (123, 243, 483, 963 and 4,983
#    pods; `corpus_tool gen --pods`), and 140 namespaces with three pods per
#    workload (5,043 pods); for each, N runs of
#      nplc matrix DIR --pods FILE --format classes   (the compact form)
#      nplc matrix DIR --pods FILE --format csv       (every probe row; up to
#                                                      963 pods: the output
#                                                      grows with pods^2)
#    and, in the same run, one run of IBM's network-config-analyzer
#      nca --connectivity OUT --resource_list FILE -o txt_no_fw_rules
#          --output_endpoints pods                     on nplc's own output
#    where nca is installed ($NCA, else on PATH, else .venv/bin/nca;
#    skipped with a message otherwise; stopped after --nca-timeout, default
#    600 s); --quick: 10, 40 and 415 namespaces;
# 6. the review loop (issue 14; --review-only skips 1-5 and 7): the 10k corpus
#    and a revision of it with 1% of its statements changed
#    (`corpus_tool revise`), N runs each of
#      nplc diff A B                    (target: under 2 s on two cores)
#      nplc build A -o OUT              over its own output (OUT current)
#      nplc build A -o OUT --check      the drift check of that OUT
#                                       (target: within 1.2x of the build)
# 7. `nplc import` (issue 13; --import-only skips 1-6): 10,000
#    NetworkPolicies in 500 namespaces (`scripts/gen_policies.py 10000`,
#    one 6.7 MB stream), N runs each of
#      nplc import P10K -o OUT          into a fresh OUT (target: under 1 s
#                                       on two cores)
#      nplc import P10K --stdout
#      nplc build OUT -o B              the imported program, into a fresh
#                                       directory on tmpfs (else on the disk)
#      nplc build HAND -o B             a hand-written corpus of as many
#                                       statements in 500 namespaces
#                                       (`corpus_tool gen`; target: the
#                                       imported program within 1.5x of it)
#    and the stage timings of one import (NPLC_TIMINGS=1);
# 8. prints the tables (markdown) and the targets, and keeps them in
#    $BENCH_DIR/results.md.
#
# On a machine with more than two CPUs every timed command is pinned to two
# (taskset -c 0,1), the targets' "two cores". NPLC_BENCH_CPUS=0-7 changes it.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=5
QUICK=0
KTIMEOUT=120
MATRIX=1
BUILDS=1
REVIEW=1
IMPORT=1
NCATIMEOUT=600
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; RUNS=1 ;;
    --runs) RUNS="$2"; shift ;;
    --kustomize-timeout) KTIMEOUT="$2"; shift ;;
    --no-matrix) MATRIX=0 ;;
    --matrix-only) BUILDS=0; IMPORT=0 ;;
    --review-only) BUILDS=0; MATRIX=0; IMPORT=0 ;;
    --import-only) BUILDS=0; MATRIX=0; REVIEW=0 ;;
    --nca-timeout) NCATIMEOUT="$2"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "bench.sh: $*" >&2; exit 1; }
say() { printf '%s\n' "$*" >&2; }

[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"

# ---------------------------------------------------------------- GNU time
TIME=/usr/bin/time
if ! "$TIME" -v true >/dev/null 2>&1; then
  say "installing GNU time (Debian package \`time\`)"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
  command -v apt-get >/dev/null 2>&1 || die "/usr/bin/time is missing and there is no apt-get"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2 \
    || die "apt-get install time failed"
fi

# ------------------------------------------------------------------- build
say "building nplc (release) and the corpus tool"
cargo build -q --release --bin nplc
NPLC=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/nplc
TOOL=$(cargo bench -q --bench corpus_tool --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*corpus_tool[^"]*\)".*/\1/p' | tail -1)
[ -x "$NPLC" ] || die "no $NPLC"
[ -n "$TOOL" ] && [ -x "$TOOL" ] || die "cannot find the corpus_tool executable"

BENCH_DIR=${BENCH_DIR:-target/bench}
mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)

PIN=()
cpus=$(nproc)
if [ -n "${NPLC_BENCH_CPUS:-}" ]; then
  PIN=(taskset -c "$NPLC_BENCH_CPUS")
elif [ "$cpus" -gt 2 ] && command -v taskset >/dev/null 2>&1; then
  PIN=(taskset -c 0,1)
fi

if [ "$BUILDS" -eq 1 ]; then
# ----------------------------------------------------------------- corpora
# name statements namespaces deny% [single | heavyP: P% of the statements
# in one namespace, the uneven corpus of docs/performance.md]
CORPORA=(
  "file-200-lines 70 7 5 single"
  "1k 1000 100 5"
  "10k 10000 1000 5"
  "10k-deny0 10000 1000 0"
  "10k-deny10 10000 1000 10"
  "10k-deny30 10000 1000 30"
  "10k-heavy50 10000 1000 5 heavy50"
)
[ "$QUICK" -eq 1 ] || CORPORA+=("100k 100000 10000 5")

declare -A ST NS DN LINES
for c in "${CORPORA[@]}"; do
  read -r name n ns deny single <<<"$c"
  extra=()
  [ "${single:-}" = single ] && extra=(--single-file)
  case "${single:-}" in heavy*) extra=(--heavy-percent "${single#heavy}") ;; esac
  line=$("$TOOL" gen --out "$BENCH_DIR/corpus/$name" --statements "$n" --namespaces "$ns" \
    --deny-percent "$deny" --seed 1 "${extra[@]}")
  say "corpus $name: $line"
  ST[$name]=$n; NS[$name]=$ns
  DN[$name]=$(sed -n 's/.*denies=\([0-9]*\).*/\1/p' <<<"$line")
  LINES[$name]=$(sed -n 's/.*lines=\([0-9]*\).*/\1/p' <<<"$line")
done
fi

# ----------------------------------------------------------------- measure
# measure PREP CMD...: runs CMD $RUNS times (PREP before each, untimed);
# sets WALL (fastest, ms), CPU (user+sys of that run, ms), RSS (largest, MB).
measure() {
  local prep=$1; shift
  local tf="$BENCH_DIR/time.txt" best="" cpu="" rss=0 i t0 t1 ms r u s
  for ((i = 0; i < RUNS; i++)); do
    $prep
    t0=$EPOCHREALTIME
    if ! "${PIN[@]}" "$TIME" -v -o "$tf" "$@" >/dev/null 2>"$BENCH_DIR/stderr.txt"; then
      cat "$BENCH_DIR/stderr.txt" >&2
      die "failed: $*"
    fi
    t1=$EPOCHREALTIME
    ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
    r=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf")
    u=$(awk -F': ' '/User time/ { print $2 }' "$tf")
    s=$(awk -F': ' '/System time/ { print $2 }' "$tf")
    if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$ms
      cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.0f", (u + s) * 1000 }')
    fi
    [ "$r" -gt "$rss" ] && rss=$r
  done
  WALL=$best
  CPU=$cpu
  RSS=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
}

nothing() { :; }

if [ "$BUILDS" -eq 1 ]; then
OUT="$BENCH_DIR/out"
# A fresh output directory: the previous tree is moved into $TRASH, which is
# removed only after every measurement. On ext4 without a journal (this
# project's benchmark machine) the kernel does not reuse an inode freed in
# the last 60 seconds and scans past each one when it creates a file, so
# `rm -rf OUT` right before a build makes the build's file creation up to
# 10x slower than a first build (docs/performance.md, "The disk").
TRASH="$BENCH_DIR/trash"
rm -rf "$TRASH"
mkdir -p "$TRASH"
trash_n=0
fresh() {
  if [ -e "$OUT" ]; then trash_n=$((trash_n + 1)); mv "$OUT" "$TRASH/$trash_n"; fi
  sync
}
TMPOUT=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  TMPOUT=/dev/shm/nplc-bench-out-$$
fi
fresh_tmp() { rm -rf "$TMPOUT"; }

declare -A CBUILD CBUILD_CPU CBUILD_RSS CFILES CBYTES
declare -A CHECK CHECK_CPU CHECK_RSS BUILD BUILD_CPU BUILD_RSS AGAIN TMPFS TMPFS_CPU FLOOR_TMP FLOOR2_TMP SERDE FILES BYTES SER WRITE FLOOR FLOOR2 KUST STAGES
for c in "${CORPORA[@]}"; do
  read -r name _ <<<"$c"
  src="$BENCH_DIR/corpus/$name"
  say "measuring $name ($RUNS runs each)"
  measure nothing "$NPLC" check "$src"
  CHECK[$name]=$WALL; CHECK_CPU[$name]=$CPU; CHECK_RSS[$name]=$RSS
  measure fresh "$NPLC" build "$src" -o "$OUT"
  BUILD[$name]=$WALL; BUILD_CPU[$name]=$CPU; BUILD_RSS[$name]=$RSS
  measure nothing "$NPLC" build "$src" -o "$OUT"
  AGAIN[$name]=$WALL
  if [ -n "$TMPOUT" ]; then
    measure fresh_tmp "$NPLC" build "$src" -o "$TMPOUT"
    TMPFS[$name]=$WALL; TMPFS_CPU[$name]=$CPU
    rm -rf "$TMPOUT"
  else
    TMPFS[$name]="-"; TMPFS_CPU[$name]="-"
  fi
  [ "${BUILD_RSS[$name]%.*}" -ge "${RSS%.*}" ] || BUILD_RSS[$name]=$RSS
  FILES[$name]=$(find "$OUT" -type f -name '*.yaml' | wc -l)
  BYTES[$name]=$(find "$OUT" -type f -name '*.yaml' -printf '%s\n' | awk '{ s += $1 } END { print s }')
  # the cilium target (docs/targets.md) on the same corpus, into a fresh
  # directory, and the bytes it writes
  if [ "$name" = 10k-deny30 ] || [ "$name" = 10k-deny0 ]; then
    COUT="$BENCH_DIR/out-cilium"
    fresh_c() { if [ -e "$COUT" ]; then trash_n=$((trash_n + 1)); mv "$COUT" "$TRASH/$trash_n"; fi; sync; }
    measure fresh_c "$NPLC" build "$src" -o "$COUT" --target cilium
    CBUILD[$name]=$WALL; CBUILD_CPU[$name]=$CPU; CBUILD_RSS[$name]=$RSS
    CFILES[$name]=$(find "$COUT" -type f -name '*.yaml' | wc -l)
    CBYTES[$name]=$(find "$COUT" -type f -name '*.yaml' -printf '%s\n' | awk '{ s += $1 } END { print s }')
    mv "$COUT" "$TRASH/cilium-$name"
  fi
  # stage timings of one more build, as nplc reports them
  STAGES[$name]=$(NPLC_TIMINGS=1 "${PIN[@]}" "$NPLC" build "$src" -o "$OUT" 2>&1 >/dev/null \
    | awk '/^nplc: / { printf "%s%s %s", sep, $2, $3; sep = ", " }')
  # baseline 1: the serialization floor, on the same output, same file system
  fl=$("${PIN[@]}" "$TOOL" floor --in "$src" --out "$BENCH_DIR/floor" --runs "$RUNS" --trash "$TRASH/floor-$name")
  SER[$name]=$(sed -n 's/.*serialize_ms=\([0-9.]*\).*/\1/p' <<<"$fl")
  SERDE[$name]=$(sed -n 's/.*serde_yaml_ms=\([0-9.]*\).*/\1/p' <<<"$fl")
  WRITE[$name]=$(sed -n 's/.*write_ms=\([0-9.]*\).*/\1/p' <<<"$fl")
  FLOOR[$name]=$(sed -n 's/.* floor_ms=\([0-9.]*\).*/\1/p' <<<"$fl")
  FLOOR2[$name]=$(sed -n 's/.*floor2_ms=\([0-9.]*\).*/\1/p' <<<"$fl")
  [ -e "$BENCH_DIR/floor" ] && mv "$BENCH_DIR/floor" "$TRASH/floor-$name-last"
  if [ -n "$TMPOUT" ]; then
    fl=$("${PIN[@]}" "$TOOL" floor --in "$src" --out "$TMPOUT-floor" --runs "$RUNS")
    FLOOR_TMP[$name]=$(sed -n 's/.* floor_ms=\([0-9.]*\).*/\1/p' <<<"$fl")
    FLOOR2_TMP[$name]=$(sed -n 's/.*floor2_ms=\([0-9.]*\).*/\1/p' <<<"$fl")
    rm -rf "$TMPOUT-floor" "$TMPOUT-floor.trash"
  else
    FLOOR_TMP[$name]="-"; FLOOR2_TMP[$name]="-"
  fi
  # baseline 2: kubectl kustomize over the emitted directory
  if command -v kubectl >/dev/null 2>&1; then
    t0=$EPOCHREALTIME
    if "${PIN[@]}" timeout "$KTIMEOUT" kubectl kustomize "$OUT" >/dev/null 2>"$BENCH_DIR/stderr.txt"; then
      t1=$EPOCHREALTIME
      KUST[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
    elif [ $? -eq 124 ]; then
      KUST[$name]="> ${KTIMEOUT}000"
    else
      KUST[$name]="failed"
    fi
  else
    KUST[$name]="skipped"
  fi
done
rm -rf "$OUT" "$TRASH"
command -v kubectl >/dev/null 2>&1 || say "kubectl is not installed: the kustomize baseline is skipped"

# ------------------------------------------------------------------ report
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
{
  echo "## Machine"
  echo
  echo "- $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs online$([ ${#PIN[@]} -gt 0 ] && echo ", timed commands pinned with: ${PIN[*]}")"
  echo "- memory: $(free -m | awk '/^Mem:/ { printf "%.1f GB", $2 / 1024 }'); file system of $BENCH_DIR: $(df -T "$BENCH_DIR" | awk 'NR == 2 { print $2 }')"
  echo "- $(uname -sr); $(rustc --version); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), nplc $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (with uncommitted changes in src/)'), best of $RUNS runs"
  echo
  echo "## Whole process"
  echo
  echo "| corpus | statements | namespaces | denies | input lines | check ms | check CPU ms | check MB | build ms (fresh) | build CPU ms | build ms (over last output) | build ms (tmpfs) | build CPU ms (tmpfs) | build MB | output files | output MB |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for c in "${CORPORA[@]}"; do
    read -r n _ <<<"$c"
    echo "| $n | ${ST[$n]} | ${NS[$n]} | ${DN[$n]} | ${LINES[$n]} | ${CHECK[$n]} | ${CHECK_CPU[$n]} | ${CHECK_RSS[$n]} | ${BUILD[$n]} | ${BUILD_CPU[$n]} | ${AGAIN[$n]} | ${TMPFS[$n]} | ${TMPFS_CPU[$n]} | ${BUILD_RSS[$n]} | ${FILES[$n]} | $(mb "${BYTES[$n]}") |"
  done
  echo
  echo "## Baselines on the same output"
  echo
  echo "| corpus | serialize ms (1 thread) | write ms (1 thread) | floor ms (1 thread) | floor ms (2 cores) | build / floor (1 thread) | build / floor (2 cores) | floor ms, tmpfs (1 thread) | floor ms, tmpfs (2 cores) | build / floor, tmpfs (1 thread) | build / floor, tmpfs (2 cores) | serde_yaml serialize ms | kubectl kustomize ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for c in "${CORPORA[@]}"; do
    read -r n _ <<<"$c"
    echo "| $n | ${SER[$n]} | ${WRITE[$n]} | ${FLOOR[$n]} | ${FLOOR2[$n]} | $(ratio "${BUILD[$n]}" "${FLOOR[$n]}") | $(ratio "${BUILD[$n]}" "${FLOOR2[$n]}") | ${FLOOR_TMP[$n]} | ${FLOOR2_TMP[$n]} | $(ratio "${TMPFS[$n]}" "${FLOOR_TMP[$n]}") | $(ratio "${TMPFS[$n]}" "${FLOOR2_TMP[$n]}") | ${SERDE[$n]} | ${KUST[$n]} |"
  done
  echo
  echo "## Stages (NPLC_TIMINGS=1, one build, ms)"
  echo
  for c in "${CORPORA[@]}"; do
    read -r n _ <<<"$c"
    echo "- $n: ${STAGES[$n]:-(no stage timings)}"
  done
  echo
  echo "## Targets"
  echo
  t=10k
  verdict() { if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; then echo "holds"; else echo "MISSED"; fi; }
  echo "- 10k statements in 1k namespaces, built end to end in under 1 s: ${BUILD[$t]} ms into a fresh directory on $(df -T "$BENCH_DIR" | awk 'NR == 2 { print $2 }'), $(verdict "${BUILD[$t]}" 1000); ${AGAIN[$t]} ms over the last output, $(verdict "${AGAIN[$t]}" 1000)"
  [ -z "$TMPOUT" ] || echo "- ... into a fresh directory on tmpfs: ${TMPFS[$t]} ms, $(verdict "${TMPFS[$t]}" 1000)"
  echo "- ... under 200 MB peak memory: ${BUILD_RSS[$t]} MB, $(verdict "${BUILD_RSS[$t]}" 200)"
  echo "- \`nplc check\` of a ${LINES[file-200-lines]}-line file under 20 ms: ${CHECK[file-200-lines]} ms, $(verdict "${CHECK[file-200-lines]}" 20)"
  fs=$(df -T "$BENCH_DIR" | awk 'NR == 2 { print $2 }')
  echo "- within 3x of the serialization floor (10k; the floor: every object serialized, then every file written, one thread): $(ratio "${BUILD[$t]}" "${FLOOR[$t]}")x on $fs, $(verdict "$(ratio "${BUILD[$t]}" "${FLOOR[$t]}")" 3.0001)$([ -z "$TMPOUT" ] || echo "; $(ratio "${TMPFS[$t]}" "${FLOOR_TMP[$t]}")x on tmpfs, $(verdict "$(ratio "${TMPFS[$t]}" "${FLOOR_TMP[$t]}")" 3.0001)")"
  echo "- ... against a stricter floor (both cores, each file rendered and written in one pass, as nplc writes): $(ratio "${BUILD[$t]}" "${FLOOR2[$t]}")x on $fs, $(verdict "$(ratio "${BUILD[$t]}" "${FLOOR2[$t]}")" 3.0001)$([ -z "$TMPOUT" ] || echo "; $(ratio "${TMPFS[$t]}" "${FLOOR2_TMP[$t]}")x on tmpfs, $(verdict "$(ratio "${TMPFS[$t]}" "${FLOOR2_TMP[$t]}")" 3.0001)")"
  echo "- growth 1k -> 10k (x10 statements): build time x$(ratio "${BUILD[10k]}" "${BUILD[1k]}"), build CPU x$(ratio "${BUILD_CPU[10k]}" "${BUILD_CPU[1k]}"), output bytes x$(ratio "${BYTES[10k]}" "${BYTES[1k]}")"
  if [ -n "${BUILD[100k]:-}" ]; then
    echo "- growth 10k -> 100k (x10 statements): build time x$(ratio "${BUILD[100k]}" "${BUILD[10k]}"), build CPU x$(ratio "${BUILD_CPU[100k]}" "${BUILD_CPU[10k]}"), output bytes x$(ratio "${BYTES[100k]}" "${BYTES[10k]}")"
  fi
  echo "- denies 0% -> 30% (10k): build time x$(ratio "${BUILD[10k-deny30]}" "${BUILD[10k-deny0]}"), output bytes x$(ratio "${BYTES[10k-deny30]}" "${BYTES[10k-deny0]}")"
  for n in 10k-deny0 10k-deny30; do
    echo "- $n, \`--target cilium\` vs k8s: build ${CBUILD[$n]} ms vs ${BUILD[$n]} ms ($(verdict "${CBUILD[$n]}" "$(awk -v b="${BUILD[$n]}" 'BEGIN { print b + 0.0001 }')") no more time), CPU ${CBUILD_CPU[$n]} vs ${BUILD_CPU[$n]} ms, ${CBUILD_RSS[$n]} vs ${BUILD_RSS[$n]} MB, ${CFILES[$n]} vs ${FILES[$n]} files, ${CBYTES[$n]} vs ${BYTES[$n]} bytes (x$(ratio "${CBYTES[$n]}" "${BYTES[$n]}"))"
  done
} | tee "$BENCH_DIR/results.md"
fi

# ------------------------------------------------------------------ matrix
if [ "$MATRIX" -eq 1 ]; then
  NCA_BIN=${NCA:-$(command -v nca || true)}
  if [ -z "$NCA_BIN" ] && [ -x .venv/bin/nca ]; then NCA_BIN=$(pwd)/.venv/bin/nca; fi
  # name namespaces replicas
  MX=("10ns 10 1" "20ns 20 1" "40ns 40 1" "80ns 80 1" "415ns 415 1" "140ns-x3 140 3")
  [ "$QUICK" -eq 0 ] || MX=("10ns 10 1" "40ns 40 1" "415ns 415 1")
  declare -A MPODS MCLS MCLS_CPU MCLS_RSS MCLS_BYTES MCSV MCSV_RSS MCSV_BYTES MNCA MCLASSES
  mkdir -p "$BENCH_DIR/matrix"
  for m in "${MX[@]}"; do
    read -r name ns reps <<<"$m"
    dir="$BENCH_DIR/matrix/$name"
    line=$("$TOOL" gen --out "$dir" --statements $((ns * 10)) --namespaces "$ns" --seed 1 \
      --pods "$dir.pods.yaml" --replicas "$reps")
    MPODS[$name]=$(sed -n 's/.* pods=\([0-9]*\).*/\1/p' <<<"$line")
    say "matrix $name: ${MPODS[$name]} pods ($RUNS runs each)"
    measure nothing "$NPLC" matrix "$dir" --pods "$dir.pods.yaml" --format classes
    MCLS[$name]=$WALL; MCLS_CPU[$name]=$CPU; MCLS_RSS[$name]=$RSS
    "$NPLC" matrix "$dir" --pods "$dir.pods.yaml" --format classes >"$BENCH_DIR/matrix/out.txt"
    MCLS_BYTES[$name]=$(wc -c <"$BENCH_DIR/matrix/out.txt")
    MCLASSES[$name]=$(sed -n 's/^# [0-9]* pods in \([0-9]*\) classes$/\1/p' "$BENCH_DIR/matrix/out.txt")
    if [ "${MPODS[$name]}" -le 1000 ]; then
      measure nothing "$NPLC" matrix "$dir" --pods "$dir.pods.yaml" --format csv
      MCSV[$name]=$WALL; MCSV_RSS[$name]=$RSS
      MCSV_BYTES[$name]=$("$NPLC" matrix "$dir" --pods "$dir.pods.yaml" --format csv | wc -c)
    else
      MCSV[$name]="-"; MCSV_RSS[$name]="-"; MCSV_BYTES[$name]=0
    fi
    if [ -n "$NCA_BIN" ]; then
      rm -rf "$BENCH_DIR/matrix/yaml"
      "$NPLC" build "$dir" -o "$BENCH_DIR/matrix/yaml" >/dev/null
      rm -f "$BENCH_DIR/matrix/nca.txt"
      t0=$EPOCHREALTIME
      if "${PIN[@]}" timeout "$NCATIMEOUT" "$NCA_BIN" --connectivity "$BENCH_DIR/matrix/yaml" \
          --resource_list "$dir.pods.yaml" -o txt_no_fw_rules --output_endpoints pods \
          -f "$BENCH_DIR/matrix/nca.txt" >"$BENCH_DIR/stderr.txt" 2>&1; then
        t1=$EPOCHREALTIME
        MNCA[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
      elif [ $? -eq 124 ]; then
        MNCA[$name]="> ${NCATIMEOUT}000"
      else
        MNCA[$name]="failed"
      fi
    else
      MNCA[$name]="skipped"
    fi
  done
  [ -n "$NCA_BIN" ] || say "nca is not installed: the nca --connectivity baseline is skipped"
  mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }'; }
  verdict() { if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; then echo "holds"; else echo "MISSED"; fi; }
  {
    echo
    echo "## nplc matrix (best of $RUNS; nca: one run)"
    echo
    echo "| cluster | pods | classes | classes ms | classes CPU ms | classes MB | classes output MB | csv ms | csv MB | csv output MB | nca --connectivity ms |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for m in "${MX[@]}"; do
      read -r n _ <<<"$m"
      echo "| $n | ${MPODS[$n]} | ${MCLASSES[$n]} | ${MCLS[$n]} | ${MCLS_CPU[$n]} | ${MCLS_RSS[$n]} | $(mb "${MCLS_BYTES[$n]}") | ${MCSV[$n]} | ${MCSV_RSS[$n]} | $(mb "${MCSV_BYTES[$n]}") | ${MNCA[$n]} |"
    done
    echo
    echo "- nplc matrix of ${MPODS[40ns]} pods under 1 s: classes ${MCLS[40ns]} ms, $(verdict "${MCLS[40ns]}" 1000)$([ "${MCSV[40ns]}" = - ] || echo "; csv ${MCSV[40ns]} ms, $(verdict "${MCSV[40ns]}" 1000)")"
    echo "- nplc matrix of ${MPODS[415ns]} pods under 10 s: classes ${MCLS[415ns]} ms, $(verdict "${MCLS[415ns]}" 10000)"
    if [ -n "${MCLS[140ns-x3]:-}" ]; then
      echo "- ... ${MPODS[140ns-x3]} pods in ${MCLASSES[140ns-x3]} classes: ${MCLS[140ns-x3]} ms, $(verdict "${MCLS[140ns-x3]}" 10000)"
    fi
    echo "- growth 40ns -> 415ns (pods x$(ratio "${MPODS[415ns]}" "${MPODS[40ns]}")): classes time x$(ratio "${MCLS[415ns]}" "${MCLS[40ns]}"), memory x$(ratio "${MCLS_RSS[415ns]}" "${MCLS_RSS[40ns]}"), output x$(ratio "${MCLS_BYTES[415ns]}" "${MCLS_BYTES[40ns]}")"
  } | tee -a "$BENCH_DIR/results.md"
  rm -rf "$BENCH_DIR/matrix/yaml"
fi
say "kept in $BENCH_DIR/results.md"

# ------------------------------------------------------------- review loop
if [ "$REVIEW" -eq 1 ]; then
say "review loop: nplc diff and nplc build --check ($RUNS runs each)"
rv="$BENCH_DIR/review"
mkdir -p "$rv"
"$TOOL" gen --out "$rv/a" --statements 10000 --namespaces 1000 --deny-percent 5 --seed 1 >/dev/null
rline=$("$TOOL" revise --in "$rv/a" --out "$rv/b" --percent 1)
say "$rline"
measure nothing "$NPLC" diff "$rv/a" "$rv/b"
DIFF_WALL=$WALL; DIFF_CPU=$CPU; DIFF_RSS=$RSS
DIFF_CHANGES=$("$NPLC" diff "$rv/a" "$rv/b" --format json | sed -n 's/^    "added": \([0-9]*\),/\1/p' | head -1)
rm -rf "$rv/out"
"$NPLC" build "$rv/a" -o "$rv/out" >/dev/null
measure nothing "$NPLC" build "$rv/a" -o "$rv/out"
RB_WALL=$WALL; RB_CPU=$CPU
measure nothing "$NPLC" build "$rv/a" -o "$rv/out" --check
RC_WALL=$WALL; RC_CPU=$CPU
rm -rf "$rv"
{
  echo
  echo "## The review loop (10k statements in 1k namespaces)"
  echo
  echo "| command | wall ms (best of $RUNS) | CPU ms | MB |"
  echo "| --- | --- | --- | --- |"
  echo "| nplc diff A B (1% of statements changed: ${rline##*changed=}; ${DIFF_CHANGES:-?} added changes) | $DIFF_WALL | $DIFF_CPU | $DIFF_RSS |"
  echo "| nplc build A -o OUT (OUT current) | $RB_WALL | $RB_CPU | |"
  echo "| nplc build A -o OUT --check | $RC_WALL | $RC_CPU | |"
  echo
  v() { if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; then echo "holds"; else echo "MISSED"; fi; }
  echo "- \`nplc diff\` of two 10k revisions differing in 1% under 2 s: $DIFF_WALL ms, $(v "$DIFF_WALL" 2000)"
  echo "- \`nplc build --check\` within 1.2x of \`nplc build\`: $(awk -v a="$RC_WALL" -v b="$RB_WALL" 'BEGIN { printf "%.2f", a / b }')x, $(v "$RC_WALL" "$(awk -v b="$RB_WALL" 'BEGIN { print b * 1.2 }')")"
} | tee -a "$BENCH_DIR/results.md"
fi

# ------------------------------------------------------------------ import
if [ "$IMPORT" -eq 1 ]; then
  command -v python3 >/dev/null 2>&1 || die "the import step needs python3 (scripts/gen_policies.py)"
  im="$BENCH_DIR/import"
  rm -rf "$im"
  mkdir -p "$im/trash"
  python3 scripts/gen_policies.py 10000 >"$im/p10k.yaml"
  say "import: 10,000 NetworkPolicies, $(wc -c <"$im/p10k.yaml") bytes ($RUNS runs each)"
  itrash=0
  fresh_import() {
    if [ -e "$im/out" ]; then itrash=$((itrash + 1)); mv "$im/out" "$im/trash/$itrash"; fi
    sync
  }
  measure fresh_import "$NPLC" import "$im/p10k.yaml" -o "$im/out"
  IM_WALL=$WALL; IM_CPU=$CPU; IM_RSS=$RSS
  measure nothing "$NPLC" import "$im/p10k.yaml" --stdout
  IMS_WALL=$WALL; IMS_CPU=$CPU; IMS_RSS=$RSS
  IM_STAGES=$(NPLC_TIMINGS=1 "${PIN[@]}" "$NPLC" import "$im/p10k.yaml" --stdout 2>&1 >/dev/null \
    | awk '/^nplc: / { printf "%s%s %s", sep, $2, $3; sep = ", " }')
  # the imported program's statements (allow, deny, isolate: what the
  # corpus tool counts as statements), and a hand-written corpus as large
  IM_ST=$(cat "$im"/out/*.npl | grep -cE '^ *(allow|deny|isolate) ')
  IM_FILES=$(find "$im/out" -name '*.npl' | wc -l)
  "$TOOL" gen --out "$im/hand" --statements "$IM_ST" --namespaces 500 --seed 1 >/dev/null
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then BOUT=/dev/shm/nplc-bench-import-$$; else BOUT="$im/built"; fi
  fresh_built() { rm -rf "$BOUT"; }
  measure fresh_built "$NPLC" build "$im/out" -o "$BOUT"
  IB_WALL=$WALL; IB_CPU=$CPU; IB_RSS=$RSS
  IB_FILES=$(find "$BOUT" -type f -name '*.yaml' | wc -l)
  measure fresh_built "$NPLC" build "$im/hand" -o "$BOUT"
  HB_WALL=$WALL; HB_CPU=$CPU; HB_RSS=$RSS
  HB_FILES=$(find "$BOUT" -type f -name '*.yaml' | wc -l)
  rm -rf "$BOUT" "$im"
  {
    echo
    echo "## nplc import (10,000 NetworkPolicies in 500 namespaces)"
    echo
    echo "| command | wall ms (best of $RUNS) | CPU ms | MB |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| nplc import p10k.yaml -o OUT (fresh OUT; $IM_FILES files) | $IM_WALL | $IM_CPU | $IM_RSS |"
    echo "| nplc import p10k.yaml --stdout | $IMS_WALL | $IMS_CPU | $IMS_RSS |"
    echo "| nplc build OUT (the imported program: $IM_ST statements; $IB_FILES files written) | $IB_WALL | $IB_CPU | $IB_RSS |"
    echo "| nplc build HAND (corpus_tool gen --statements $IM_ST --namespaces 500; $HB_FILES files written) | $HB_WALL | $HB_CPU | $HB_RSS |"
    echo
    echo "- stages of one import: $IM_STAGES"
    v() { if awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; then echo "holds"; else echo "MISSED"; fi; }
    echo "- \`nplc import\` of 10k NetworkPolicies under 1 s: $IM_WALL ms ($(v "$IM_WALL" 1000)); --stdout $IMS_WALL ms ($(v "$IMS_WALL" 1000))"
    echo "- \`nplc build\` of the imported program within 1.5x of the hand-written one: $(awk -v a="$IB_WALL" -v b="$HB_WALL" 'BEGIN { printf "%.2f", a / b }')x wall, $(awk -v a="$IB_CPU" -v b="$HB_CPU" 'BEGIN { printf "%.2f", a / b }')x CPU, $(v "$IB_WALL" "$(awk -v b="$HB_WALL" 'BEGIN { print b * 1.5 }')")"
  } | tee -a "$BENCH_DIR/results.md"
fi
