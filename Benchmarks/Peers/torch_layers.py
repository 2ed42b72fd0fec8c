"""PyTorch peer of `kernel-benchmark --layers`: the same ops at the same shapes, median seconds
of forward (no_grad) and forward + backward, printed as JSON {name: {"forward": s, "train": s}}.

Image tensors are NCHW, PyTorch's native layout (the Swift library is NHWC): the same work in
each framework's own layout.

    python3 torch_layers.py [--runs 20] [--threads 2]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def cases():
    g = torch.Generator().manual_seed(7)

    def p(*shape):
        return (torch.rand(*shape, generator=g) * 2 - 1).requires_grad_()

    image = (4, 128, 64, 64)
    linear = torch.nn.Linear(1024, 1024)
    ln, gn, gn256 = torch.nn.LayerNorm(256), torch.nn.GroupNorm(32, 256), torch.nn.GroupNorm(256, 256)
    instance = torch.nn.InstanceNorm2d(256, affine=True)
    labels = torch.tensor([(i * 37) % 1024 for i in range(256)])
    x_lin, x_img, x_norm, x_cls = p(256, 1024), p(*image), p(4, 32, 32, 256), p(256, 1024)
    x_gn = p(4, 256, 32, 32)
    q, k, v = p(4, 8, 256, 64), p(4, 8, 256, 64), p(4, 8, 256, 64)
    return {
        "linear": lambda: linear(x_lin),
        "maxpool3x3s2": lambda: F.max_pool2d(x_img, 3, 2, 1),
        "avgpool2x2": lambda: F.avg_pool2d(x_img, 2),
        "upsample_nearest2": lambda: F.interpolate(x_img, scale_factor=2, mode="nearest"),
        "upsample_bilinear2": lambda: F.interpolate(x_img, scale_factor=2, mode="bilinear", align_corners=False),
        "pixel_shuffle2": lambda: F.pixel_shuffle(x_img, 2),
        "layernorm": lambda: ln(x_norm),
        "groupnorm32": lambda: gn(x_gn),
        "groupnorm256": lambda: gn256(x_gn),
        "instancenorm": lambda: instance(x_gn),
        "softmax": lambda: torch.softmax(x_cls, -1),
        "cross_entropy": lambda: F.cross_entropy(x_cls, labels),
        "gelu": lambda: F.gelu(x_img),
        "attention": lambda: F.scaled_dot_product_attention(q, k, v),
    }


def median(runs, body):
    body()
    body()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = {}
    for name, forward in cases().items():
        def inference():
            with torch.no_grad():
                forward()

        def train():
            forward().sum().backward()

        out[name] = {"forward": median(args.runs, inference), "train": median(args.runs, train)}
    print(json.dumps(out))
