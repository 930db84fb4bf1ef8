#!/usr/bin/env bash
# Runs the whole test suite in Release (the README's test command) and ends with one summary line; then, unless
# arguments narrowed the run, packs the NuGet packages and uses them as an app would (scripts/package-check.sh --aot).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test --project tests/Cuda.Nn.Tests -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# dotnet test's own summary lists total/failed/succeeded/skipped; restate it as one plain line.
failed=$(awk '/^ *failed: [0-9]+/ {print $2}' "$log" | tail -1)
passed=$(awk '/^ *succeeded: [0-9]+/ {print $2}' "$log" | tail -1)
skipped=$(awk '/^ *skipped: [0-9]+/ {print $2}' "$log" | tail -1)
if [ -n "$passed" ]; then
  echo "tests: ${passed} passed, ${failed:-0} failed, ${skipped:-0} skipped"
fi
[ "$status" = 0 ] || exit "$status"
if [ $# -eq 0 ]; then
  scripts/package-check.sh --aot > "$log" 2>&1 || { cat "$log"; echo "package check: FAILED"; exit 1; }
  grep -E '^(cudann [0-9]|prediction for|ILGPU assemblies|AotPredict binary|package check)' "$log"
fi
