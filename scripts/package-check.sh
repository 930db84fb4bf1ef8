#!/usr/bin/env bash
# Packs the NuGet packages and uses them as a user would (issue 21; docs/packaging.md):
#   1. dotnet pack: Cuda.Nn.Kernels, Cuda.Nn and the cudann tool into artifacts/packages;
#   2. samples/Embedding, outside the solution, restores Cuda.Nn from there, trains two steps on photos it makes,
#      predicts one photo and checks that no GPU assembly was loaded;
#   3. dotnet tool install from the same folder, then cudann --version;
#   4. with --aot: samples/AotPredict published with NativeAOT predicts the same photos as under the JIT.
# Usage: scripts/package-check.sh [--aot] [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
aot=0
if [ "${1:-}" = "--aot" ]; then aot=1; shift; fi
work=${1:-$(mktemp -d /tmp/cudann-package-check.XXXXXX)}
mkdir -p "$work"
rm -rf "$work/embedding" "$work/aot"
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

rm -rf artifacts/packages
dotnet pack Cuda.Nn.sln -c Release --nologo -v q
ls -l artifacts/packages
# A repacked 0.1.0 must not be shadowed by an older one of the same version in the NuGet cache.
cache=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
rm -rf "$cache/cuda.nn" "$cache/cuda.nn.kernels" "$cache/cudann"

echo "== samples/Embedding from the packages"
dotnet run --project samples/Embedding -c Release -- "$work/embedding"

echo "== dotnet tool install cudann"
rm -rf "$work/tools"
dotnet tool install cudann --tool-path "$work/tools" --add-source artifacts/packages --version "$version"
"$work/tools/cudann" --version | tee "$work/version.txt"
grep -qx "cudann $version" "$work/version.txt"

if [ "$aot" = 1 ]; then
  echo "== samples/AotPredict: NativeAOT against the JIT"
  model="$work/embedding/run/best.safetensors"
  photos=("$work/embedding/photos/test/red/0.png" "$work/embedding/photos/test/blue/0.png")
  dotnet run --project samples/AotPredict -c Release -- "$model" "${photos[@]}" | tee "$work/jit.txt"
  dotnet publish samples/AotPredict -c Release -o "$work/aot" --nologo
  "$work/aot/AotPredict" "$model" "${photos[@]}" | tee "$work/aot.txt"
  # The predictions (every line but the timing) must be identical.
  diff <(grep -v '^timing:' "$work/jit.txt") <(grep -v '^timing:' "$work/aot.txt")
  echo "AotPredict binary: $(stat -c %s "$work/aot/AotPredict") bytes"
fi
echo "package check passed (work folder $work)"
