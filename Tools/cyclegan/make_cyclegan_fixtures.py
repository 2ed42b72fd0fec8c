"""Writes the fixtures of Tests/CycleGANTests/CycleGANLossFixtureTests.swift: three CycleGAN
training steps taken as junyanz's pytorch-CycleGAN-and-pix2pix takes them
(models/cycle_gan_model.py, `optimize_parameters`), with every loss term it logs.

Usage:  python3 Tools/cyclegan/make_cyclegan_fixtures.py   (from anywhere; needs torch and numpy,
        e.g. Benchmarks/Peers/.venv/bin/python; CPU, about 3 s, no download). The committed
        fixtures were made with PyTorch 2.15.0 and numpy 2.4.6.

Networks: the ResnetGenerator and NLayerDiscriminator of Tools/pytorch/make_junyanz_fixtures.py
(imported from it, one definition) at small sizes — G_A, G_B: ResnetGenerator, ngf 4, 2 residual
blocks, instance norm (affine=False, track_running_stats=False, convolutions with bias), no
dropout; D_A, D_B: NLayerDiscriminator with n_layers 2 (a 32x32 image gives 6x6 patch logits),
ndf 4, instance norm. Weights as junyanz's init_weights(init_type='normal', init_gain=0.02):
every convolution's weight ~ N(0, 0.02), its bias 0 (seeded; torch.manual_seed(20261220)).
Inputs real_A, real_B: [1, 3, 32, 32] uniform in [-1, 1], drawn after the weights.

One step, with junyanz's defaults (lambda_A = lambda_B = 10, lambda_identity 0.5, gan_mode
lsgan, pool_size 50, Adam lr 2e-4, betas (0.5, 0.999), eps 1e-8):
  fake_B = G_A(real_A), rec_A = G_B(fake_B), fake_A = G_B(real_B), rec_B = G_A(fake_A);
  D_A, D_B frozen (requires_grad False); optimizer_G.zero_grad();
  idt_A = ||G_A(real_B) - real_B||_1 * lambda_B * lambda_idt, idt_B = ||G_B(real_A) - real_A||_1
  * lambda_A * lambda_idt; G_A = MSE(D_A(fake_B), 1), G_B = MSE(D_B(fake_A), 1);
  cycle_A = ||rec_A - real_A||_1 * lambda_A, cycle_B = ||rec_B - real_B||_1 * lambda_B
  (L1 and MSE are means); their sum backward; optimizer_G (over G_A and G_B) steps;
  D_A, D_B unfrozen; optimizer_D.zero_grad();
  D_A = 0.5 * (MSE(D_A(real_B), 1) + MSE(D_A(pool_B.query(fake_B).detach()), 0)), backward;
  D_B = 0.5 * (MSE(D_B(real_A), 1) + MSE(D_B(pool_A.query(fake_A).detach()), 0)), backward;
  optimizer_D (over D_A and D_B) steps.
The image pools hold 50 images, so during these three steps they are filling and return each
query's images unchanged (asserted): the run is deterministic.

Output, in Tests/CycleGANTests/Fixtures/ (about 180 KB, two thirds of it the generators; reruns are
byte-identical):
  net_G_A.pth, net_G_B.pth, net_D_A.pth, net_D_B.pth: torch.save(net.state_dict(), path) of the
      four networks before training, as junyanz saves them;
  cyclegan_steps.npz (float32, PyTorch's NCHW / OIHW layouts):
      real_A, real_B  [1, 3, 32, 32];
      losses          [3, 8], one row per step, columns in junyanz's loss_names order
                      D_A, G_A, cycle_A, idt_A, D_B, G_B, cycle_B, idt_B;
      G_A_output_weight_after  G_A's last convolution (model.19.weight, [3, 4, 7, 7]) after the
                      three steps, and D_A_output_weight_after  D_A's last convolution
                      (model.8.weight, [1, 16, 4, 4]), to check the optimizers' updates.

The whole run is float32, as junyanz trains; the script repeats it in float64 from the same
weights and prints, per loss term, the largest relative difference between the two — the size of
float32 rounding in these numbers, which the Swift test's tolerances must allow for (at most
2.8e-7 for the committed fixtures).
"""
import itertools
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pytorch"))
from make_junyanz_fixtures import NLayerDiscriminator, ResnetGenerator  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "Tests", "CycleGANTests", "Fixtures")
LOSS_NAMES = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]
STEPS = 3
LAMBDA_A, LAMBDA_B, LAMBDA_IDT = 10.0, 10.0, 0.5


def init_normal(net, gain=0.02):
    """junyanz's init_weights(net, 'normal', 0.02) for convolutions (the only layers with
    parameters here): weight ~ N(0, gain), bias 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class FillingImagePool:
    """junyanz's ImagePool while it has room: it stores each image of a query and returns the
    query's images. (Once full it swaps at random; these three steps never get there.)"""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        assert len(self.images) + images.shape[0] <= self.size, "the pool would start swapping"
        returned = []
        for image in images:
            image = image.unsqueeze(0)
            self.images.append(image)
            returned.append(image)
        return torch.cat(returned, 0)


def set_requires_grad(nets, flag):
    for net in nets:
        for p in net.parameters():
            p.requires_grad = flag


def gan_loss(prediction, real):
    """junyanz's GANLoss('lsgan'): MSE against a target of 1 (real) or 0 (fake)."""
    target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
    return nn.functional.mse_loss(prediction, target)


def discriminator_loss(net, real, fake):
    """junyanz's backward_D_basic: half the real and fake LSGAN losses, backpropagated."""
    loss = (gan_loss(net(real), True) + gan_loss(net(fake.detach()), False)) * 0.5
    loss.backward()
    return loss


def train(nets, real_A, real_B, steps=STEPS):
    """`steps` of junyanz's optimize_parameters; returns the losses [steps, 8] in LOSS_NAMES order."""
    G_A, G_B, D_A, D_B = nets
    optimizer_G = torch.optim.Adam(itertools.chain(G_A.parameters(), G_B.parameters()), lr=2e-4, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(itertools.chain(D_A.parameters(), D_B.parameters()), lr=2e-4, betas=(0.5, 0.999))
    fake_A_pool, fake_B_pool = FillingImagePool(50), FillingImagePool(50)
    rows = []
    for _ in range(steps):
        # forward()
        fake_B = G_A(real_A)
        rec_A = G_B(fake_B)
        fake_A = G_B(real_B)
        rec_B = G_A(fake_A)
        # the generators, through frozen discriminators (backward_G)
        set_requires_grad([D_A, D_B], False)
        optimizer_G.zero_grad()
        loss_idt_A = nn.functional.l1_loss(G_A(real_B), real_B) * LAMBDA_B * LAMBDA_IDT
        loss_idt_B = nn.functional.l1_loss(G_B(real_A), real_A) * LAMBDA_A * LAMBDA_IDT
        loss_G_A = gan_loss(D_A(fake_B), True)
        loss_G_B = gan_loss(D_B(fake_A), True)
        loss_cycle_A = nn.functional.l1_loss(rec_A, real_A) * LAMBDA_A
        loss_cycle_B = nn.functional.l1_loss(rec_B, real_B) * LAMBDA_B
        loss_G = loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A + loss_idt_B
        loss_G.backward()
        optimizer_G.step()
        # the discriminators, on pooled fakes (backward_D_A, backward_D_B)
        set_requires_grad([D_A, D_B], True)
        optimizer_D.zero_grad()
        loss_D_A = discriminator_loss(D_A, real_B, fake_B_pool.query(fake_B))
        loss_D_B = discriminator_loss(D_B, real_A, fake_A_pool.query(fake_A))
        optimizer_D.step()
        rows.append([loss.item() for loss in (loss_D_A, loss_G_A, loss_cycle_A, loss_idt_A,
                                              loss_D_B, loss_G_B, loss_cycle_B, loss_idt_B)])
    return np.array(rows, dtype=np.float64)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(20261220)
    generators = [ResnetGenerator(ngf=4, blocks=2, norm_kind="instance", dropout=False) for _ in range(2)]
    discriminators = [NLayerDiscriminator(3, 4, 2, "instance") for _ in range(2)]
    nets = generators + discriminators
    for net in nets:
        init_normal(net)
    real_A = torch.rand(1, 3, 32, 32) * 2 - 1
    real_B = torch.rand(1, 3, 32, 32) * 2 - 1

    for name, net in zip(["G_A", "G_B", "D_A", "D_B"], nets):
        torch.save(net.state_dict(), os.path.join(OUT, f"net_{name}.pth"))
    doubles = [ResnetGenerator(ngf=4, blocks=2, norm_kind="instance", dropout=False) for _ in range(2)]
    doubles += [NLayerDiscriminator(3, 4, 2, "instance") for _ in range(2)]
    for double, net in zip(doubles, nets):
        double.load_state_dict(net.state_dict())
        double.double()

    losses = train(nets, real_A, real_B)
    losses64 = train(doubles, real_A.double(), real_B.double())
    G_A, _, D_A, _ = nets
    np.savez(os.path.join(OUT, "cyclegan_steps.npz"), real_A=real_A.numpy(), real_B=real_B.numpy(),
             losses=losses.astype(np.float32),
             G_A_output_weight_after=G_A.model[19].weight.detach().numpy(),
             D_A_output_weight_after=D_A.model[8].weight.detach().numpy())

    relative = np.abs(losses - losses64) / np.abs(losses64)
    print("step  " + "  ".join(f"{name:>9}" for name in LOSS_NAMES))
    for step, row in enumerate(losses):
        print(f"{step + 1:>4}  " + "  ".join(f"{value:9.6f}" for value in row))
    print("largest relative difference, float32 vs float64, per term:")
    print("      " + "  ".join(f"{value:9.2e}" for value in relative.max(axis=0)))
    for name, after, before in [("G_A model.19.weight", G_A.model[19].weight, doubles[0].model[19].weight),
                                ("D_A model.8.weight", D_A.model[8].weight, doubles[2].model[8].weight)]:
        difference = (after.detach().double() - before.detach()).abs().max().item()
        print(f"{name} after {STEPS} steps: max |float32 - float64| {difference:.2e}")
    print("written to", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
