"""Peer benchmark: PyTorch's DataLoader with PIL decoding side-by-side pix2pix JPEGs and
jittering them like junyanz's aligned dataset (resize to 286, random 256 crop, random mirror, the
same for both halves), batch 1.

Usage:  python3 torch_loader.py DIR [--workers 0] [--epochs 2] [--size 256] [--json]

Prints images/s of the loader alone (decode + split + jitter + to tensor + collate), after one
warm-up epoch. Install: pip install torch pillow
"""
import argparse, glob, json, os, random, time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset


class Aligned(Dataset):
    def __init__(self, folder, size):
        self.files = sorted(glob.glob(os.path.join(folder, "*.jpg")))
        self.size, self.load = size, size * 286 // 256

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        ab = Image.open(self.files[i]).convert("RGB")
        w, h = ab.size
        a, b = ab.crop((0, 0, w // 2, h)), ab.crop((w // 2, 0, w, h))
        x, y = random.randint(0, self.load - self.size), random.randint(0, self.load - self.size)
        flip = random.random() < 0.5
        out = []
        for im in (a, b):
            im = im.resize((self.load, self.load), Image.NEAREST).crop((x, y, x + self.size, y + self.size))
            if flip:
                im = im.transpose(Image.FLIP_LEFT_RIGHT)
            t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(self.size, self.size, 3)
            out.append(t.permute(2, 0, 1).float().div(127.5).sub(1))
        return out[0], out[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(1)
    data = Aligned(a.folder, a.size)
    loader = DataLoader(data, batch_size=1, shuffle=True, num_workers=a.workers)
    for _ in loader:  # warm-up epoch (and the workers' start)
        pass
    start = time.perf_counter()
    n = 0
    for _ in range(a.epochs):
        for batch in loader:
            n += batch[0].shape[0]
    rate = n / (time.perf_counter() - start)
    res = {"peer": "pytorch", "version": torch.__version__, "workers": a.workers, "images_per_s": rate}
    print(json.dumps(res) if a.json else f"pytorch {torch.__version__} DataLoader, {a.workers} workers: {rate:.1f} pairs/s")


if __name__ == "__main__":
    main()
