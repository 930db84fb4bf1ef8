#!/usr/bin/env bash
# Publishes a self-contained single-file `cudann` (no .NET on the GPU machine) into .gpu/ with the PyTorch peer
# script and the first 25,600 Fashion-MNIST training images (the files must stay under the device tool's 64 MiB),
# then prints the one command to run there: `cudann gpu-check` (every op family and ResNet-20 training against
# the CPU) and scripts/gpu_check_torch.py (PyTorch on the same card).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu && mkdir -p .gpu/data
dotnet publish src/Cli -c Release -r linux-x64 --self-contained true -p:PublishSingleFile=true \
  -p:EnableCompressionInSingleFile=true -o .gpu >/dev/null
cp scripts/gpu_check_torch.py .gpu/
src=/usr/share/datasets/fashion-mnist
if [ -f "$src/train-images-idx3-ubyte.gz" ]; then
  # A gzipped IDX subset: the header with the count rewritten, then the first N records.
  python3 - "$src" .gpu/data 25600 <<'PY'
import gzip, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name, rec in (("train-images-idx3-ubyte", 784), ("train-labels-idx1-ubyte", 1)):
    data = gzip.open(f"{src}/{name}.gz").read()
    dims = data[3]
    head = bytearray(data[:4 + 4 * dims])
    struct.pack_into(">I", head, 4, n)
    with gzip.open(f"{dst}/{name}.gz", "wb") as f:
        f.write(bytes(head) + data[4 + 4 * dims: 4 + 4 * dims + n * rec])
for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
    open(f"{dst}/{name}.gz", "wb").write(open(f"{src}/{name}.gz", "rb").read())
PY
else
  echo "note: Fashion-MNIST not found here; the training check will be skipped"
fi
du -sh .gpu
cat <<'TXT'
Published into .gpu/. On the GPU machine (device tool: carry [".gpu"]), run:

  export LD_LIBRARY_PATH=$(find / \( -name 'libcudnn.so.9' -o -name 'libcublas.so.*' -o -name 'libnvrtc.so.*' \) 2>/dev/null | xargs -r -n1 dirname | sort -u | paste -sd:):${LD_LIBRARY_PATH:-}; .gpu/cudann gpu-check --data .gpu/data --out "$OUT/gpu-check.json"; python3 .gpu/gpu_check_torch.py --out "$OUT/torch.json"

Here, without a GPU, `cudann gpu-check` says so; `--dry-run true` runs the same checks on ILGPU's CPU accelerator.
TXT
