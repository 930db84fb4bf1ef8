#!/usr/bin/env bash
# Deployment figures for docs/packaging.md and bench/RESULTS.md (issue 21): our NativeAOT inference binary against
# ONNX Runtime's own package on the same ONNX file (resnet18 at 64 px, trained two steps by samples/Embedding and
# exported by the cudann tool): size on disk, process start to first prediction (median of 5 runs) and one-image
# latency (median of 50, inside the process). Run on a quiet machine. Usage: scripts/aot-vs-ort.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d /tmp/cudann-aot-vs-ort.XXXXXX)}
mkdir -p "$work"
scripts/package-check.sh --aot "$work" > "$work/package-check.log"
rm -rf "$work/r18"
dotnet run --project samples/Embedding -c Release -- "$work/r18" resnet18 64 > "$work/r18.log"
"$work/tools/cudann" export --checkpoint "$work/r18/run/best.safetensors" --out "$work/r18.onnx"
dotnet publish samples/OrtPredict -c Release -o "$work/ort" --nologo -v q
photo="$work/r18/photos/test/red/0.png"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for who in aot ort; do
  : > "$work/$who.cold"; : > "$work/$who.steady"
  for i in 1 2 3 4 5; do
    if [ $who = aot ]; then line=$("$work/aot/AotPredict" "$work/r18.onnx" "$photo" | grep '^timing:')
    else line=$(dotnet "$work/ort/OrtPredict.dll" "$work/r18.onnx" 2 | grep '^timing:'); fi
    echo "$line" | sed -E 's/.*prediction ([0-9.]+) ms.*/\1/' >> "$work/$who.cold"
    echo "$line" | sed -E 's/.*: ([0-9.]+) ms$/\1/' >> "$work/$who.steady"
  done
done
echo "model: resnet18, 3x64x64, batch 1, 2 threads ($(nproc) cores), $(date -u +%F)"
printf '%-28s %14s %14s\n' "" "NativeAOT (ours)" "ONNX Runtime"
printf '%-28s %14s %14s\n' "files to ship (bytes)" "$(stat -c %s "$work/aot/AotPredict")" "$(du -sb "$work/ort" | cut -f1) + .NET runtime"
printf '%-28s %14s %14s\n' "start to first prediction ms" "$(median < "$work/aot.cold")" "$(median < "$work/ort.cold")"
printf '%-28s %14s %14s\n' "one image, median ms" "$(median < "$work/aot.steady")" "$(median < "$work/ort.steady")"
