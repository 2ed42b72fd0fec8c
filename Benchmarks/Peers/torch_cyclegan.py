"""Peer benchmark: one CycleGAN training step as junyanz's cycle_gan_model.py takes it (ResNet-9
generators with instance norm, 70x70 PatchGANs, LSGAN, cycle 10/10, identity 0.5, image pools of
50, one Adam over both generators and one over both discriminators), PyTorch fp32 on the CPU.

Usage:  python3 torch_cyclegan.py [--threads 2] [--steps 5] [--warmup 2] [--size 256] [--json]

Prints seconds per step (min, median). Random data, no downloads. Install: pip install torch
"""
import argparse, itertools, json, random, statistics, time

import torch
import torch.nn as nn


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.block(x)


def resnet9(ngf=64):
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
    for mult in (1, 2):
        layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 4) for _ in range(9)]
    for mult in (4, 2):
        layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1),
                   nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patchgan(ndf=64):
    layers = [nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, 3):
        prev, mult = mult, min(2 ** n, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1), nn.InstanceNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
    prev, mult = mult, 8
    layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1), nn.InstanceNorm2d(ndf * mult), nn.LeakyReLU(0.2, True),
               nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
    return nn.Sequential(*layers)


class ImagePool:
    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        out = []
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image); out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone()); self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0); random.seed(0)
    G_A, G_B, D_A, D_B = resnet9(), resnet9(), patchgan(), patchgan()
    for net in (G_A, G_B, D_A, D_B):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0, 0.02); nn.init.zeros_(m.bias)
    opt_G = torch.optim.Adam(itertools.chain(G_A.parameters(), G_B.parameters()), 2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(itertools.chain(D_A.parameters(), D_B.parameters()), 2e-4, betas=(0.5, 0.999))
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    pool_A, pool_B = ImagePool(50), ImagePool(50)
    real_A = torch.rand(1, 3, a.size, a.size) * 2 - 1
    real_B = torch.rand(1, 3, a.size, a.size) * 2 - 1

    def gan(pred, real):
        return mse(pred, torch.ones_like(pred) if real else torch.zeros_like(pred))

    def step():
        fake_B = G_A(real_A); rec_A = G_B(fake_B); fake_A = G_B(real_B); rec_B = G_A(fake_A)
        for q in itertools.chain(D_A.parameters(), D_B.parameters()):
            q.requires_grad_(False)
        opt_G.zero_grad()
        loss_idt_A = l1(G_A(real_B), real_B) * 10 * 0.5
        loss_idt_B = l1(G_B(real_A), real_A) * 10 * 0.5
        loss_G = (gan(D_A(fake_B), True) + gan(D_B(fake_A), True) + l1(rec_A, real_A) * 10
                  + l1(rec_B, real_B) * 10 + loss_idt_A + loss_idt_B)
        loss_G.backward(); opt_G.step()
        for q in itertools.chain(D_A.parameters(), D_B.parameters()):
            q.requires_grad_(True)
        opt_D.zero_grad()
        fb = pool_B.query(fake_B.detach())
        loss_D_A = (gan(D_A(real_B), True) + gan(D_A(fb), False)) * 0.5
        loss_D_A.backward()
        fa = pool_A.query(fake_A.detach())
        loss_D_B = (gan(D_B(real_A), True) + gan(D_B(fa), False)) * 0.5
        loss_D_B.backward()
        opt_D.step()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
    res = {"peer": "pytorch", "version": torch.__version__, "size": a.size,
           "cyclegan_step_s": {"min": min(times), "median": statistics.median(times)}}
    print(json.dumps(res) if a.json else f"pytorch {torch.__version__} CycleGAN step min {min(times):.3f}s median {statistics.median(times):.3f}s")


if __name__ == "__main__":
    main()
