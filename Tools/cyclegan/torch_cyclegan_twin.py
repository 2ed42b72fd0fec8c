"""The PyTorch twin of our CycleGAN: junyanz's pytorch-CycleGAN-and-pix2pix training recipe
(cycle_gan_model.py with its defaults), written here from its description, for comparing
against the Swift implementation (Docs/CycleGAN.md).

Needs torch, numpy and pillow (Benchmarks/Peers/.venv has them). No download.

Training:

    python3 Tools/cyclegan/torch_cyclegan_twin.py --data DIR --output OUT --seed 0 \\
        [--image-size 64] [--ngf 32] [--ndf 32] [--blocks 9] [--disc-layers 3] \\
        [--steps N | --epochs E --decay-epochs D] [--batch-size 1] [--threads 2] [--print-every 100]

Harness check (translate the test images with OUR trained generators, read from safetensors):

    python3 Tools/cyclegan/torch_cyclegan_twin.py --translate-ours RUN_DIR --data DIR --output OUT \\
        [--image-size 64] [--ngf 32] [--blocks 9]

Round trip of the harness (write the twin's G_A.pth / G_B.pth in our naming and layout, as
TWIN_OUT/generator_A.safetensors / generator_B.safetensors; `--translate-ours TWIN_OUT` must then
reproduce TWIN_OUT/AtoB and TWIN_OUT/BtoA byte for byte):

    python3 Tools/cyclegan/torch_cyclegan_twin.py --export-ours TWIN_OUT [--ngf 32] [--blocks 9]

Data (junyanz's unaligned layout): DIR/trainA, DIR/trainB (the two domains, not paired),
DIR/testA, DIR/testB (testA/0001.png and testB/0001.png show the same scene). RGB (or gray, or
RGBA: converted to RGB) PNG or JPEG.

What the training does, as junyanz's defaults (`--model cyclegan --netG resnet_9blocks --netD basic
--norm instance --no_dropout --gan_mode lsgan --pool_size 50 --lambda_A 10 --lambda_B 10
--lambda_identity 0.5 --lr 0.0002 --beta1 0.5 --preprocess resize_and_crop --init_type normal
--init_gain 0.02`):

- Dataset (UnalignedDataset): max(|A|, |B|) samples; sample i is A[i mod |A|] with B[j], j drawn
  uniformly (Python `random`), each image transformed on its own: resize to load² with
  load = image_size·286 // 256 (PIL bicubic), random crop image_size² (offsets from torch's RNG),
  horizontal flip with probability ½ (torch's RNG), to [0, 1], then (x − 0.5) / 0.5. The order is
  reshuffled every epoch (DataLoader shuffle=True, drop_last False); loading runs in the main
  process, so one seed fixes everything.
- G_A: A → B and G_B: B → A are ResnetGenerators (reflection pad 3, 7×7 conv, two stride-2 3×3
  convs, `blocks` residual blocks, two stride-2 3×3 transposed convs with output_padding 1,
  reflection pad 3, 7×7 conv, tanh; non-affine instance norm without running statistics and
  ReLU after every conv but the last; convolutions with bias; no dropout). D_A judges B images,
  D_B judges A images; both are `disc-layers`-layer PatchGANs (NLayerDiscriminator). Every conv and
  transposed conv weight ~ N(0, 0.02), biases 0.
- One step (optimize_parameters): fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B),
  rec_B = G_A(fake_A). D_A and D_B frozen; G loss = MSE(D_A(fake_B), 1) + MSE(D_B(fake_A), 1)
  + 10·|rec_A − A| + 10·|rec_B − B| + 0.5·10·|G_A(B) − B| + 0.5·10·|G_B(A) − A| (L1 means); one
  Adam step over G_A + G_B. Then D_A's loss ½·(MSE(D_A(B), 1) + MSE(D_A(pool_B(fake_B)), 0)) and
  D_B's ½·(MSE(D_B(A), 1) + MSE(D_B(pool_A(fake_A)), 0)), with the fakes of this step's forward,
  detached; one Adam step over D_A + D_B. Adam: lr 2e-4, betas (0.5, 0.999).
- ImagePool(50) (junyanz's): while fewer than 50 are stored, store the image and return it; then,
  with probability ½ (`random.uniform(0, 1) > 0.5`), return a stored image picked at random
  (`random.randint`) and store the new one in its place, else return the new one.
- Learning rate per epoch e (0-based): 2e-4 · (1 − max(0, e + 1 − epochs) / (decay_epochs + 1)),
  for epochs + decay_epochs epochs (junyanz's `linear` policy). `--steps N` stops after N steps;
  given alone (no --epochs/--decay-epochs) the rate stays constant for those N steps.

At the end every testA image is translated by G_A to OUT/AtoB/<stem>.png (a predicted map, from a
satellite tile) and every testB image by G_B to OUT/BtoA/<stem>.png. The input is the test image
resized to image_size² (PIL bicubic) only if it is not already that size, then scaled to [-1, 1]
as above. Instance norm keeps no running statistics and there is no dropout, so train and eval
mode give the same outputs. The output becomes 8-bit as junyanz's tensor2im, (x + 1) / 2 · 255,
but ROUNDED to the nearest integer (halves up; computed in float64 from the float32 value) and
clamped to 0…255 — junyanz truncates with astype(uint8); rounding matches our Swift image writer.

Also written: OUT/losses.csv (step and the eight terms in junyanz's order D_A, G_A, cycle_A,
idt_A, D_B, G_B, cycle_B, idt_B, every step; cycle and idt already weighted), OUT/G_A.pth and
OUT/G_B.pth (torch.save(state_dict()) with junyanz's names: model.1.weight, …,
model.10.conv_block.1.weight, …, which ResNetGenerator.fromPyTorch in
Sources/Pix2Pix/PyTorchImport.swift reads), OUT/D_A.pth and OUT/D_B.pth.

Our safetensors (Module.stateDictionary names, NHWC model with HWIO kernels; see OURS_TO_JUNYANZ
below): conv kernels are [kh, kw, in, out] = OIHW.permute(2, 3, 1, 0); transposed-conv kernels
are [kh, kw, out, in] = IOHW.permute(2, 3, 1, 0); both go back with permute(3, 2, 0, 1).
"""
import argparse
import csv
import json
import math
import os
import random
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".tif", ".tiff", ".webp"}
LOSS_NAMES = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]


# ----------------------------------------------------------------------------------------------
# Networks (same module layout and indices as Tools/pytorch/make_junyanz_fixtures.py)
# ----------------------------------------------------------------------------------------------

def instance_norm(channels):
    """junyanz's `--norm instance`: no affine parameters, no running statistics."""
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """x + (reflect pad 1, 3×3 conv, norm, ReLU, reflect pad 1, 3×3 conv, norm)(x); no dropout,
    so the second conv is conv_block.5."""

    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=True), instance_norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=True), instance_norm(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """junyanz's ResnetGenerator with instance norm and no dropout, as one Sequential `model`:
    0 pad, 1 conv7, 2 norm, 3 ReLU, 4/7 down convs, 5/8 norms, 6/9 ReLUs, 10…9+blocks residual
    blocks, 10+blocks / 13+blocks transposed convs (then norm, ReLU), 16+blocks pad,
    17+blocks conv7 to 3, 18+blocks tanh."""

    def __init__(self, ngf, blocks, input_nc=3, output_nc=3):
        super().__init__()
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=True), instance_norm(ngf),
                 nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=True),
                      instance_norm(ngf * mult * 2), nn.ReLU(True)]
        model += [ResnetBlock(ngf * 4) for _ in range(blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                         bias=True), instance_norm(ngf * mult // 2), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """junyanz's PatchGAN (`--netD basic` is n_layers 3, the 70×70 one): 4×4 stride-2 conv and
    LeakyReLU(0.2); n_layers − 1 stride-2 conv-norm-LeakyReLU stages to ndf·min(2^n, 8); a stride-1
    one to ndf·min(2^n_layers, 8); a stride-1 conv to one channel. Every conv pads by 1 and has
    a bias (instance norm)."""

    def __init__(self, input_nc, ndf, n_layers):
        super().__init__()
        sequence = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            previous, mult = mult, min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride=2, padding=1, bias=True),
                         instance_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        previous, mult = mult, min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride=1, padding=1, bias=True),
                     instance_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        sequence += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*sequence)

    def forward(self, x):
        return self.model(x)


def init_normal(net, gain=0.02):
    """junyanz's init_weights(init_type='normal', init_gain=0.02): every Conv*/Linear weight
    ~ N(0, gain), biases 0 (no batch norm here)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0.0)
    return net


def set_requires_grad(nets, flag):
    for net in nets:
        for p in net.parameters():
            p.requires_grad = flag


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def list_images(directory):
    """Image files below `directory`, sorted by path (junyanz's make_dataset, sorted)."""
    if not os.path.isdir(directory):
        sys.exit(f"error: {directory} is not a directory")
    paths = []
    for root, _, names in os.walk(directory):
        paths += [os.path.join(root, n) for n in names if os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS]
    if not paths:
        sys.exit(f"error: no images in {directory}")
    return sorted(paths)


def to_model_range(image):
    """PIL RGB image → [3, H, W] float32 in [-1, 1]: ToTensor (/255) then Normalize(0.5, 0.5)."""
    array = np.asarray(image, dtype=np.uint8)
    tensor = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(255)
    return tensor.sub(0.5).div(0.5)


class UnalignedDataset(torch.utils.data.Dataset):
    """junyanz's UnalignedDataset with get_transform for `--preprocess resize_and_crop`."""

    def __init__(self, root, image_size):
        self.a_paths = list_images(os.path.join(root, "trainA"))
        self.b_paths = list_images(os.path.join(root, "trainB"))
        self.load_size = image_size * 286 // 256
        self.crop_size = image_size

    def __len__(self):
        return max(len(self.a_paths), len(self.b_paths))

    def transform(self, image):
        image = image.resize((self.load_size, self.load_size), Image.Resampling.BICUBIC)
        # RandomCrop: top, then left, each uniform over the valid offsets (torch's RNG).
        top = torch.randint(0, self.load_size - self.crop_size + 1, size=(1,)).item()
        left = torch.randint(0, self.load_size - self.crop_size + 1, size=(1,)).item()
        image = image.crop((left, top, left + self.crop_size, top + self.crop_size))
        if torch.rand(1) < 0.5:  # RandomHorizontalFlip
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return to_model_range(image)

    def __getitem__(self, index):
        a_path = self.a_paths[index % len(self.a_paths)]
        b_path = self.b_paths[random.randint(0, len(self.b_paths) - 1)]
        a_image = Image.open(a_path).convert("RGB")
        b_image = Image.open(b_path).convert("RGB")
        return {"A": self.transform(a_image), "B": self.transform(b_image)}


class ImagePool:
    """junyanz's ImagePool: a buffer of generated images, so that the discriminators also see
    older fakes."""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        if self.size == 0:
            return images
        returned = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                returned.append(image)
            elif random.uniform(0, 1) > 0.5:
                index = random.randint(0, self.size - 1)
                returned.append(self.images[index].clone())
                self.images[index] = image
            else:
                returned.append(image)
        return torch.cat(returned, 0)


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------

def learning_rate_factor(epoch, epochs, decay_epochs):
    """junyanz's lambda_rule for the `linear` policy, `epoch` 0-based."""
    return 1.0 - max(0, epoch + 1 - epochs) / float(decay_epochs + 1)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_generators(args):
    return ResnetGenerator(args.ngf, args.blocks), ResnetGenerator(args.ngf, args.blocks)


def train(args):
    seed_everything(args.seed)
    os.makedirs(args.output, exist_ok=True)
    dataset = UnalignedDataset(args.data, args.image_size)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=False,
                                         num_workers=0)
    g_a, g_b = (init_normal(g) for g in build_generators(args))
    d_a = init_normal(NLayerDiscriminator(3, args.ndf, args.disc_layers))
    d_b = init_normal(NLayerDiscriminator(3, args.ndf, args.disc_layers))
    optimizer_g = torch.optim.Adam(list(g_a.parameters()) + list(g_b.parameters()), lr=args.lr, betas=(0.5, 0.999))
    optimizer_d = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()), lr=args.lr, betas=(0.5, 0.999))
    pool_a, pool_b = ImagePool(args.pool_size), ImagePool(args.pool_size)  # fake A images, fake B images
    mse, l1 = nn.MSELoss(), nn.L1Loss()
    lambda_a = lambda_b = 10.0
    lambda_identity = 0.5

    def gan_loss(prediction, real):
        return mse(prediction, torch.full_like(prediction, 1.0 if real else 0.0))

    if args.epochs is None and args.decay_epochs is None:
        epochs, decay_epochs = math.inf, 0  # --steps alone: constant rate
    else:
        epochs = 100 if args.epochs is None else args.epochs
        decay_epochs = 100 if args.decay_epochs is None else args.decay_epochs
    total_epochs = epochs + decay_epochs
    parameters = sum(p.numel() for net in (g_a, g_b, d_a, d_b) for p in net.parameters())
    print(f"{len(dataset.a_paths)} A and {len(dataset.b_paths)} B training images ({len(dataset)} a epoch), "
          f"{args.image_size}² (load {dataset.load_size}²), ngf {args.ngf}, ndf {args.ndf}, {args.blocks} blocks, "
          f"{args.disc_layers} disc layers, {parameters} parameters, {torch.get_num_threads()} threads; "
          f"{'%d steps' % args.steps if args.steps else ''}"
          f"{', ' if args.steps and total_epochs != math.inf else ''}"
          f"{'' if total_epochs == math.inf else '%d + %d epochs' % (epochs, decay_epochs)}", flush=True)

    losses_file = open(os.path.join(args.output, "losses.csv"), "w", newline="")
    losses_csv = csv.writer(losses_file)
    losses_csv.writerow(["step"] + LOSS_NAMES)
    step, epoch, start = 0, 0, time.time()
    finished = False
    while not finished and epoch < total_epochs:
        rate = args.lr * learning_rate_factor(epoch, epochs, decay_epochs)
        for optimizer in (optimizer_g, optimizer_d):
            for group in optimizer.param_groups:
                group["lr"] = rate
        epoch_start = time.time()
        for batch in loader:
            real_a, real_b = batch["A"], batch["B"]
            # forward
            fake_b = g_a(real_a)
            rec_a = g_b(fake_b)
            fake_a = g_b(real_b)
            rec_b = g_a(fake_a)
            # generators, discriminators frozen
            set_requires_grad([d_a, d_b], False)
            optimizer_g.zero_grad()
            idt_a = g_a(real_b)
            loss_idt_a = l1(idt_a, real_b) * lambda_b * lambda_identity
            idt_b = g_b(real_a)
            loss_idt_b = l1(idt_b, real_a) * lambda_a * lambda_identity
            loss_g_a = gan_loss(d_a(fake_b), True)
            loss_g_b = gan_loss(d_b(fake_a), True)
            loss_cycle_a = l1(rec_a, real_a) * lambda_a
            loss_cycle_b = l1(rec_b, real_b) * lambda_b
            loss_g = loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b + loss_idt_a + loss_idt_b
            loss_g.backward()
            optimizer_g.step()
            # discriminators
            set_requires_grad([d_a, d_b], True)
            optimizer_d.zero_grad()
            pooled_b = pool_b.query(fake_b)
            loss_d_a = 0.5 * (gan_loss(d_a(real_b), True) + gan_loss(d_a(pooled_b.detach()), False))
            loss_d_a.backward()
            pooled_a = pool_a.query(fake_a)
            loss_d_b = 0.5 * (gan_loss(d_b(real_a), True) + gan_loss(d_b(pooled_a.detach()), False))
            loss_d_b.backward()
            optimizer_d.step()

            step += 1
            values = [t.item() for t in (loss_d_a, loss_g_a, loss_cycle_a, loss_idt_a,
                                         loss_d_b, loss_g_b, loss_cycle_b, loss_idt_b)]
            if not all(math.isfinite(v) for v in values):
                sys.exit(f"error: a loss is not finite at step {step}: {dict(zip(LOSS_NAMES, values))}")
            losses_csv.writerow([step] + [repr(v) for v in values])
            if step == 1 or step % args.print_every == 0:
                elapsed = time.time() - start
                print(f"step {step} (epoch {epoch + 1}, lr {rate:.3g}, {elapsed / step:.3f} s/step) "
                      + " ".join(f"{n} {v:.4f}" for n, v in zip(LOSS_NAMES, values)), flush=True)
            if args.steps is not None and step >= args.steps:
                finished = True
                break
        if not finished:
            print(f"end of epoch {epoch + 1}: {time.time() - epoch_start:.1f} s, lr {rate:.3g}", flush=True)
        epoch += 1
    losses_file.close()
    elapsed = time.time() - start
    print(f"trained {step} steps in {elapsed:.1f} s ({elapsed / max(step, 1):.3f} s/step)", flush=True)

    torch.save(g_a.state_dict(), os.path.join(args.output, "G_A.pth"))
    torch.save(g_b.state_dict(), os.path.join(args.output, "G_B.pth"))
    torch.save(d_a.state_dict(), os.path.join(args.output, "D_A.pth"))
    torch.save(d_b.state_dict(), os.path.join(args.output, "D_B.pth"))
    translate_tests(g_a, g_b, args)


# ----------------------------------------------------------------------------------------------
# Test translation
# ----------------------------------------------------------------------------------------------

def to_8bit(image):
    """[1, 3, H, W] in [-1, 1] → [H, W, 3] uint8: (x + 1) / 2 · 255, rounded (halves up), clamped."""
    x = image[0].detach().permute(1, 2, 0).numpy().astype(np.float32)
    values = ((x + np.float32(1)) / np.float32(2) * np.float32(255)).astype(np.float64)
    values = np.nan_to_num(values, nan=0.0)
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


def translate_folder(generator, source, destination, image_size):
    os.makedirs(destination, exist_ok=True)
    paths = list_images(source)
    generator.eval()
    with torch.no_grad():
        for path in paths:
            image = Image.open(path).convert("RGB")
            if image.size != (image_size, image_size):
                image = image.resize((image_size, image_size), Image.Resampling.BICUBIC)
            output = generator(to_model_range(image).unsqueeze(0))
            stem = os.path.splitext(os.path.basename(path))[0]
            Image.fromarray(to_8bit(output), "RGB").save(os.path.join(destination, stem + ".png"))
    generator.train()
    return len(paths)


def translate_tests(g_a, g_b, args):
    start = time.time()
    count_a = translate_folder(g_a, os.path.join(args.data, "testA"), os.path.join(args.output, "AtoB"),
                               args.image_size)
    count_b = translate_folder(g_b, os.path.join(args.data, "testB"), os.path.join(args.output, "BtoA"),
                               args.image_size)
    print(f"translated {count_a} testA images to {os.path.join(args.output, 'AtoB')} and {count_b} testB images "
          f"to {os.path.join(args.output, 'BtoA')} in {time.time() - start:.1f} s", flush=True)


# ----------------------------------------------------------------------------------------------
# Our safetensors (Module.stateDictionary of ResNetGenerator) ↔ junyanz's state dictionary
# ----------------------------------------------------------------------------------------------

def ours_to_junyanz(blocks):
    """Our name → (junyanz's name, whether it is a convolution kernel needing the layout change).

    ResNetGenerator (Sources/Pix2Pix/ResNetGenerator.swift) with instance norm and no dropout
    holds parameters only in its convolutions (non-affine instance norm has none):
      stem.kernel/bias                 ↔ model.1.weight/bias
      down.0.kernel/bias               ↔ model.4.weight/bias
      down.1.kernel/bias               ↔ model.7.weight/bias
      residuals.b.conv1.kernel/bias    ↔ model.(10+b).conv_block.1.weight/bias
      residuals.b.conv2.kernel/bias    ↔ model.(10+b).conv_block.5.weight/bias
      up.0.kernel/bias                 ↔ model.(10+blocks).weight/bias   (transposed)
      up.1.kernel/bias                 ↔ model.(13+blocks).weight/bias   (transposed)
      output.kernel/bias               ↔ model.(17+blocks).weight/bias
    (the indices of PyTorchImport.swift's ResNetGenerator.fromPyTorch)."""
    pairs = [("stem", "model.1"), ("down.0", "model.4"), ("down.1", "model.7")]
    for b in range(blocks):
        pairs += [(f"residuals.{b}.conv1", f"model.{10 + b}.conv_block.1"),
                  (f"residuals.{b}.conv2", f"model.{10 + b}.conv_block.5")]
    pairs += [("up.0", f"model.{10 + blocks}"), ("up.1", f"model.{13 + blocks}"), ("output", f"model.{17 + blocks}")]
    mapping = {}
    for ours, theirs in pairs:
        mapping[f"{ours}.kernel"] = (f"{theirs}.weight", True)
        mapping[f"{ours}.bias"] = (f"{theirs}.bias", False)
    return mapping


def hwio_to_torch(kernel):
    """[kh, kw, in, out] (conv) or [kh, kw, out, in] (transposed conv) → OIHW / IOHW: the
    inverse of PyTorchImport.swift's permutation [2, 3, 1, 0]."""
    return kernel.permute(3, 2, 0, 1).contiguous()


def torch_to_hwio(weight):
    return weight.permute(2, 3, 1, 0).contiguous()


SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    """A minimal safetensors reader: 8-byte little-endian header size, JSON header (dtype, shape,
    data_offsets relative to the data section), then the raw little-endian data. Checks our
    writer's per-tensor CRC-32s (`crc32` in `__metadata__`) when present. → {name: float32 tensor}."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        sys.exit(f"error: {path}: too short for safetensors")
    (header_size,) = struct.unpack("<Q", blob[:8])
    if 8 + header_size > len(blob):
        sys.exit(f"error: {path}: header size {header_size} exceeds the file")
    header = json.loads(blob[8:8 + header_size].decode("utf-8"))
    data = memoryview(blob)[8 + header_size:]
    metadata = header.pop("__metadata__", {}) or {}
    checksums = json.loads(metadata["crc32"]) if "crc32" in metadata else {}
    tensors = {}
    for name, entry in header.items():
        dtype = SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is None:
            sys.exit(f"error: {path}: '{name}' has dtype {entry['dtype']}; only F32, F16 and F64 are read")
        begin, end = entry["data_offsets"]
        count = int(np.prod(entry["shape"], dtype=np.int64))
        if end - begin != count * np.dtype(dtype).itemsize or end > len(data):
            sys.exit(f"error: {path}: '{name}' has inconsistent data_offsets {entry['data_offsets']}")
        raw = bytes(data[begin:end])
        if name in checksums and zlib.crc32(raw) != int(checksums[name], 16):
            sys.exit(f"error: {path}: '{name}' fails its CRC-32 check")
        array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.astype(np.float32))
    return tensors


def write_safetensors(path, tensors):
    """Writes float32 `tensors` ({name: tensor}, in order) as our SafeTensors.write does (sorted
    JSON, space padding to 8 bytes, CRC-32s in the metadata)."""
    header, chunks, checksums, offset = {}, [], {}, 0
    for name, tensor in tensors.items():
        raw = tensor.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(raw)]}
        checksums[name] = "%08x" % zlib.crc32(raw)
        chunks.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"crc32": json.dumps(checksums, sort_keys=True, separators=(",", ":"))}
    encoded = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for chunk in chunks:
            f.write(chunk)


def load_ours(generator, path, blocks):
    """Loads our ResNetGenerator's safetensors into the twin's `generator`; fails naming every
    unmapped, missing or mis-shaped tensor."""
    ours = read_safetensors(path)
    mapping = ours_to_junyanz(blocks)
    expected = generator.state_dict()
    problems = []
    unmapped = sorted(set(ours) - set(mapping))
    if unmapped:
        problems.append(f"{len(unmapped)} tensor(s) with no place in the twin: {', '.join(unmapped)}")
    missing = sorted(set(mapping) - set(ours))
    if missing:
        problems.append(f"{len(missing)} tensor(s) missing: {', '.join(missing)}")
    state = {}
    for name, (theirs, is_kernel) in mapping.items():
        if name not in ours:
            continue
        tensor = hwio_to_torch(ours[name]) if is_kernel and ours[name].dim() == 4 else ours[name]
        if theirs not in expected:
            problems.append(f"'{name}' maps to '{theirs}', which the twin does not have (--blocks?)")
        elif tuple(tensor.shape) != tuple(expected[theirs].shape):
            problems.append(f"'{name}' {list(ours[name].shape)} → '{theirs}' {list(tensor.shape)}, but the twin has "
                            f"{list(expected[theirs].shape)} (--ngf / --blocks?)")
        state[theirs] = tensor
    left = sorted(set(expected) - set(state))
    if left and not missing:
        problems.append(f"twin tensors not filled: {', '.join(left)}")
    if problems:
        sys.exit(f"error: {path}: " + "; ".join(problems))
    generator.load_state_dict(state, strict=True)
    return generator


def translate_ours(args):
    os.makedirs(args.output, exist_ok=True)
    g_a, g_b = build_generators(args)
    load_ours(g_a, os.path.join(args.translate_ours, "generator_A.safetensors"), args.blocks)
    load_ours(g_b, os.path.join(args.translate_ours, "generator_B.safetensors"), args.blocks)
    translate_tests(g_a, g_b, args)


def export_ours(args):
    """G_A.pth / G_B.pth of a twin run → generator_A.safetensors / generator_B.safetensors in our
    naming and layout (the inverse of load_ours), in the same folder."""
    inverse = {theirs: (ours, is_kernel) for ours, (theirs, is_kernel) in ours_to_junyanz(args.blocks).items()}
    for letter in ("A", "B"):
        state = torch.load(os.path.join(args.export_ours, f"G_{letter}.pth"), map_location="cpu", weights_only=True)
        unknown = sorted(set(state) - set(inverse))
        if unknown or len(state) != len(inverse):
            sys.exit(f"error: G_{letter}.pth does not fit --blocks {args.blocks}: unknown {unknown}, "
                     f"{len(state)} tensors for {len(inverse)}")
        tensors = {}
        for theirs, (ours, is_kernel) in sorted(inverse.items(), key=lambda item: item[1][0]):
            tensors[ours] = torch_to_hwio(state[theirs]) if is_kernel else state[theirs]
        path = os.path.join(args.export_ours, f"generator_{letter}.safetensors")
        write_safetensors(path, tensors)
        print(f"wrote {path} ({len(tensors)} tensors)")


# ----------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="folder with trainA, trainB, testA, testB")
    parser.add_argument("--output", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64, help="crop (and test) size; default 64")
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--ndf", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--disc-layers", type=int, default=3)
    parser.add_argument("--steps", type=int, help="stop after this many steps")
    parser.add_argument("--epochs", type=int, help="epochs at the initial rate (junyanz's n_epochs; default 100)")
    parser.add_argument("--decay-epochs", type=int, help="epochs of linear decay to 0 (n_epochs_decay; default 100)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--pool-size", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--print-every", type=int, default=100)
    parser.add_argument("--translate-ours", metavar="RUN_DIR",
                        help="translate the test images with RUN_DIR/generator_{A,B}.safetensors instead of training")
    parser.add_argument("--export-ours", metavar="TWIN_OUT",
                        help="write TWIN_OUT/G_{A,B}.pth as TWIN_OUT/generator_{A,B}.safetensors in our naming")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.image_size % 4:
        parser.error("--image-size must be a multiple of 4 (two stride-2 stages)")
    if args.export_ours:
        export_ours(args)
    elif args.translate_ours:
        if not args.data or not args.output:
            parser.error("--translate-ours needs --data and --output")
        translate_ours(args)
    else:
        if not args.data or not args.output:
            parser.error("training needs --data and --output")
        if args.steps is None and args.epochs is None and args.decay_epochs is None:
            parser.error("give --steps N or --epochs E --decay-epochs D")
        train(args)


if __name__ == "__main__":
    main()
