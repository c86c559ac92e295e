#!/usr/bin/env bash
# libFuzzer targets for the core's parsers (event JSON, flow JSON, coupon CSV, Mustache
# templates, packed message bodies), built with clang and AddressSanitizer (LeakSanitizer)
# + UBSan from only the parser sources they need, then run for a bounded time each.
#
#   tests/fuzz/run.sh                 # CI: every target ~25 s (FUZZ_SECONDS), corpus kept
#   FUZZ_SECONDS=600 tests/fuzz/run.sh flow_json   # a longer run of one target, by hand
#
# Seeds come from tests/fuzz/seeds/<target>/; what a run finds worth keeping goes to
# build-fuzz/corpus/<target>/. Inputs that once crashed live in tests/fuzz/regressions/<target>/
# and are replayed before fuzzing, so every finding stays a test. Prints, per target, the
# inputs run, crashes and leaks; exits non-zero on any finding.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${FUZZ_SECONDS:-25}"
OUT="${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
TARGETS=(event_json flow_json csv template body_codec)
[ $# -gt 0 ] && TARGETS=("$@")

CXX="${FUZZ_CXX:-clang++}"
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz: $CXX not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
LAUNCHER=""
command -v ccache >/dev/null && LAUNCHER=ccache

# Only what the parsers need: the linker takes from this archive just the objects a
# target references.
SOURCES=(
  core/src/model/status.cpp core/src/model/value.cpp core/src/model/model.cpp
  core/src/model/currencies.cpp core/src/model/text.cpp core/src/model/json_reader.cpp
  core/src/model/json_writer.cpp core/src/model/clock.cpp
  core/src/ingest/events.cpp
  core/src/policy/quiet_hours.cpp core/src/policy/holidays.cpp core/src/policy/policies.cpp
  core/src/flow/flow_document.cpp core/src/flow/journey_rules.cpp
  core/src/offer/csv_codes.cpp core/src/offer/coupons.cpp
  core/src/render/mustache.cpp
  core/src/store/body_codec.cpp
)
FLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined
       -fno-sanitize-recover=undefined -Icore/include -Icore/src -Itests/fuzz)
mkdir -p "$OUT/obj"
objects=()
stale=()
for src in "${SOURCES[@]}"; do
  obj="$OUT/obj/$(echo "$src" | tr / _).o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find core/include core/src -newer "$obj" -name '*.h' -print -quit)" ]; then
    stale+=("$src")
  fi
  objects+=("$obj")
done
# Compiled side by side, one per core.
if ((${#stale[@]})); then
  printf '%s\n' "${stale[@]}" | xargs -P "$(nproc)" -I{} sh -c \
    'exec $0 "$@" -fsanitize=fuzzer-no-link -c {} -o "'"$OUT"'/obj/$(echo {} | tr / _).o"' \
    ${LAUNCHER:+$LAUNCHER} "$CXX" "${FLAGS[@]}"
fi
rm -f "$OUT/libparsers.a"
ar rcs "$OUT/libparsers.a" "${objects[@]}"

status=0
printf '%-12s %10s %8s %6s\n' target inputs crashes leaks
for t in "${TARGETS[@]}"; do
  bin="$OUT/fuzz_$t"
  $LAUNCHER "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$t.cpp" "$OUT/libparsers.a" \
    -lPocoJSON -lPocoFoundation -ldate-tz -lcrypto -llz4 -lpthread -o "$bin"
  corpus="$OUT/corpus/$t"
  mkdir -p "$corpus" "$OUT/findings/$t"
  log="$OUT/fuzz_$t.log"
  crashes=0 leaks=0 runs=0
  # Earlier findings first: each must now pass.
  if compgen -G "tests/fuzz/regressions/$t/*" >/dev/null; then
    if ! ASAN_OPTIONS=detect_leaks=1 "$bin" tests/fuzz/regressions/$t/* >"$log.regressions" 2>&1; then
      echo "fuzz $t: a regression input fails again:" >&2; tail -30 "$log.regressions" >&2
      status=1
    fi
  fi
  seeds=()
  [ -d "tests/fuzz/seeds/$t" ] && seeds+=("tests/fuzz/seeds/$t")
  if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$bin" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -rss_limit_mb=1024 \
      -artifact_prefix="$OUT/findings/$t/" -print_final_stats=1 "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    status=1
    if grep -q "LeakSanitizer" "$log"; then leaks=1; else crashes=1; fi
    echo "fuzz $t: finding (input in $OUT/findings/$t/); add it to tests/fuzz/regressions/$t/:" >&2
    grep -E "ERROR|SUMMARY|check failed|escaped|does not" "$log" | head -20 >&2
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  printf '%-12s %10s %8s %6s\n' "$t" "${runs:-?}" "$crashes" "$leaks"
done
exit $status
