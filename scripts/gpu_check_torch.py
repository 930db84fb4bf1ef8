#!/usr/bin/env python3
"""PyTorch's side of the GPU check: resnet18 and resnet50 training throughput at batch 128 on this card, F32 and
AMP (autocast + GradScaler), so each Cuda.Nn figure from `cudann gpu-check` has a peer from the same machine.
Never run in this project's sessions so far (no GPU was lent): treat its first run as its test."""
import argparse, json, time

def bench(torch, torchvision, name, amp, steps=30, batch=128):
    model = getattr(torchvision.models, name)(num_classes=1000).cuda().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    x = torch.randn(batch, 3, 224, 224, device="cuda")
    y = torch.randint(0, 1000, (batch,), device="cuda")
    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    dt = time.perf_counter() - t
    return {"model": name, "amp": amp, "batch": batch, "images_per_second": steps * batch / dt,
            "peak_bytes": torch.cuda.max_memory_allocated()}

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="torch.json")
    a = p.parse_args()
    import torch, torchvision
    if not torch.cuda.is_available():
        print("no CUDA device visible to PyTorch")
        return
    rows = [bench(torch, torchvision, m, amp) for m in ("resnet18", "resnet50") for amp in (False, True)]
    for r in rows:
        print(f"{r['model']:9} amp={r['amp']!s:5} {r['images_per_second']:8.0f} images/s  peak {r['peak_bytes'] / 2**20:.0f} MiB")
    with open(a.out, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "results": rows}, f, indent=2)

if __name__ == "__main__":
    main()
