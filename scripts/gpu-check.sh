#!/usr/bin/env bash
# Publishes a self-contained `cudann` (no .NET needed on the GPU machine) into .gpu/ with the PyTorch peer script,
# then prints the one command to run there. On the GPU machine that command runs `cudann gpu-check` (every op
# family and ResNet-20 training against the CPU) and scripts/gpu_check_torch.py (PyTorch on the same card).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet publish src/Cli -c Release -r linux-x64 --self-contained true -o .gpu/cudann -p:PublishSingleFile=false >/dev/null
cp scripts/gpu_check_torch.py .gpu/
mkdir -p .gpu/data && cp -r /usr/share/datasets/fashion-mnist/. .gpu/data/ 2>/dev/null || echo "note: Fashion-MNIST not found here; the training check will be skipped"
cat <<'TXT'
Published into .gpu/. On the GPU machine (device tool: carry [".gpu"]), run:

  .gpu/cudann/cudann gpu-check --data .gpu/data --out "$OUT/gpu-check.json" && python3 .gpu/gpu_check_torch.py --out "$OUT/torch.json"

Here, without a GPU, `cudann gpu-check` says so; `--dry-run true` runs the same checks on ILGPU's CPU accelerator.
TXT
