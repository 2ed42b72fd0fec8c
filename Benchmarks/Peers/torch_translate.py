"""PyTorch peer of `maps translate` for Benchmarks/translate-throughput.sh.

Usage:  python3 torch_translate.py --input DIR --output DIR [--threads 2] [--side-by-side] [--json]

Does the work `maps translate --side-by-side` does for every .jpg in DIR, one image after the
other as a plain PyTorch script would: PIL decode, the source (left) half of a 2:1 pair, PIL
bilinear resize to the next multiple of 256 (the U-Net's eight halvings), the seed's U-Net
generator (torch_pix2pix.py's, random weights) in pix2pix's test mode (train(): dropout and
batch statistics) under no_grad, the output resized back, PIL PNG encode. Prints images per
second (and with --json one JSON line). Model construction is not timed; everything per image is.
"""
import argparse, json, os, sys, time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_pix2pix import UNet, init  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--side-by-side", action="store_true")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = UNet()
    g.apply(init)
    g.train()  # pix2pix's test-time behaviour: dropout on, batch statistics
    os.makedirs(a.output, exist_ok=True)
    files = sorted(f for f in os.listdir(a.input) if f.lower().endswith((".jpg", ".jpeg", ".png")))
    start = time.perf_counter()
    for name in files:
        image = Image.open(os.path.join(a.input, name)).convert("RGB")
        if a.side_by_side:
            w, h = image.size
            image = image.crop((0, 0, h, h))
        w, h = image.size
        side_w, side_h = -(-w // 256) * 256, -(-h // 256) * 256
        resized = image.resize((side_w, side_h), Image.BILINEAR) if (side_w, side_h) != (w, h) else image
        x = torch.from_numpy(np.asarray(resized, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
        with torch.no_grad():
            y = g(x)
        out = ((y[0].permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).round().astype(np.uint8)
        result = Image.fromarray(out)
        if (side_w, side_h) != (w, h):
            result = result.resize((w, h), Image.BILINEAR)
        result.save(os.path.join(a.output, os.path.splitext(name)[0] + ".png"))
    seconds = time.perf_counter() - start
    rate = len(files) / seconds
    if a.json:
        print(json.dumps({"version": torch.__version__, "images": len(files), "seconds": seconds,
                          "images_per_second": rate}))
    else:
        print(f"pytorch {torch.__version__}: {len(files)} images in {seconds:.2f} s ({rate:.2f} images/s)")


if __name__ == "__main__":
    main()
