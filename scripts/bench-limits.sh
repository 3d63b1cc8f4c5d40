#!/usr/bin/env bash
# How nplc grows with the input in the shapes that once grew faster than
# it (issue 11; docs/performance.md, "Limits"). Not part of the test run;
# run it by hand on a quiet machine (minutes, and about 5 GB of memory for
# the largest input):
#
#   scripts/bench-limits.sh [--quick]
#
# 1. builds `nplc` (release) and the corpus tool (benches/corpus_tool.rs);
# 2. generates, under $BENCH_DIR/limits (default target/bench/limits):
#      one namespace of 26.3k, 52.6k, 105k and 263k statements with 5%
#        denies (`corpus_tool gen --namespaces 1 --deny-percent 5`, seed 1;
#        --quick: up to 105k), the shape of issue 11's 263k case;
#      one namespace of 100k, 200k, 400k and 1M statements `allow
#        app=a{i % 1000} -> app=b:{1 + i % 65535}` in one file
#        (tests/it/limits.rs's file; --quick: 100k and 200k);
# 3. runs `nplc check` once on each (NPLC_TIMINGS=1, /usr/bin/time) and
#    prints per input: statements, CPU seconds (user + system), peak RSS,
#    the compile stage's wall time, and the growth of CPU time against the
#    previous input of the series (linear: the ratio of the statements).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench-limits.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "bench-limits.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "needs GNU time (/usr/bin/time; Debian package \`time\`)"

echo "building nplc (release) and the corpus tool" >&2
cargo build -q --release --bin nplc
NPLC=$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/nplc
TOOL=$(cargo bench -q --bench corpus_tool --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*corpus_tool[^"]*\)".*/\1/p' | tail -1)
[ -n "$TOOL" ] && [ -x "$TOOL" ] || die "cannot find the corpus_tool executable"

DIR=${BENCH_DIR:-target/bench}/limits
mkdir -p "$DIR"

deny_sizes=(26300 52600 105200 263000)
# the pods series doubles up to 400k, so that growth per doubling shows
# (a quadratic step once hid between 100k and 1M: docs/performance.md)
line_sizes=(100000 200000 400000 1000000)
if [ "$QUICK" -eq 1 ]; then
  deny_sizes=(26300 52600 105200)
  line_sizes=(100000 200000)
fi

for n in "${deny_sizes[@]}"; do
  [ -d "$DIR/deny5-$n" ] || "$TOOL" gen --out "$DIR/deny5-$n" --statements "$n" \
    --namespaces 1 --deny-percent 5 >/dev/null
done
for n in "${line_sizes[@]}"; do
  f="$DIR/pods-$n/policy.npl"
  [ -f "$f" ] && continue
  mkdir -p "$DIR/pods-$n"
  awk -v n="$n" 'BEGIN {
    print "namespace a {"
    for (i = 0; i < n; i++) printf "  allow app=a%d -> app=b:%d\n", i % 1000, 1 + i % 65535
    print "}"
  }' > "$f"
done

printf '%-16s %10s %9s %9s %11s %8s\n' input statements "CPU s" "peak MB" "compile s" growth
series() {
  local prefix=$1; shift
  local prev_n="" prev_cpu=""
  for n in "$@"; do
    local out
    out=$(NPLC_TIMINGS=1 /usr/bin/time -f 'TIME %U %S %M' "$NPLC" check "$DIR/$prefix-$n" 2>&1 >/dev/null \
      | grep -E '^TIME |^nplc: compile') || true
    local u s m c cpu growth="-"
    read -r _ u s m <<<"$(grep '^TIME ' <<<"$out")"
    c=$(awk '/^nplc: compile/ { printf "%.2f", $3 / 1000 }' <<<"$out")
    cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    if [ -n "$prev_cpu" ]; then
      growth=$(awk -v a="$prev_cpu" -v b="$cpu" -v x="$prev_n" -v y="$n" \
        'BEGIN { printf "x%.1f/x%.1f", b / a, y / x }')
    fi
    printf '%-16s %10s %9s %9d %11s %8s\n' "$prefix-$n" "$n" "$cpu" "$((m / 1024))" "${c:--}" "$growth"
    prev_n=$n; prev_cpu=$cpu
  done
}
series deny5 "${deny_sizes[@]}"
series pods "${line_sizes[@]}"
echo "growth: CPU time against the previous input / statements against it" >&2
