"""Writes the fixtures of Tests/Pix2PixTests/PyTorchImportTests.swift.

Usage:  python3 Tools/pytorch/make_junyanz_fixtures.py   (needs torch and numpy; the committed
        fixtures were made with PyTorch 2.15)

Builds the U-Net and the ResNet generators of junyanz's pytorch-CycleGAN-and-pix2pix
(models/networks.py: UnetGenerator/UnetSkipConnectionBlock and ResnetGenerator/ResnetBlock,
re-written here from their architecture — the U-Net's nested blocks as described at
UnetSkipConnectionBlock below; the ResNet's reflection-padded
7x7 stem, two stride-2 3x3 convolutions with padding 1, residual blocks, two stride-2 3x3
transposed convolutions with padding 1 and output_padding 1, reflection-padded 7x7 output and
tanh; convolutions without bias under batch norm; non-affine instance norm without running
statistics) at small widths with random weights, saves each as the reference code does —
torch.save(net.state_dict(), path) — and its outputs on one input in eval mode (running
statistics) and train mode (batch statistics, no dropout) as NPZ. No download.
"""
import os

import numpy as np
import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "../../Tests/Pix2PixTests/Fixtures/pytorch")


class ResnetBlock(nn.Module):
    def __init__(self, dim, norm, dropout, bias):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=bias), norm(dim), nn.ReLU(True)]
        if dropout:
            layers += [nn.Dropout(0.5)]
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=bias), norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, ngf, blocks, norm_kind, dropout, input_nc=3, output_nc=3):
        super().__init__()
        if norm_kind == "batch":
            norm = lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
        else:
            norm = lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
        bias = norm_kind == "instance"
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=bias), norm(ngf), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                      norm(ngf * mult * 2), nn.ReLU(True)]
        for _ in range(blocks):
            model += [ResnetBlock(ngf * 4, norm, dropout, bias)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                         bias=bias), norm(ngf * mult // 2), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class UnetSkipConnectionBlock(nn.Module):
    """junyanz's nested U-Net block: down (LeakyReLU, conv, norm), the inner block, up (ReLU,
    transposed conv, norm, dropout); the outermost has no activation or norm before its down
    convolution and ends in tanh; the innermost has no inner block and no down norm; every
    block but the outermost returns cat([input, up])."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm=None, bias=False, dropout=False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        downrelu, uprelu = nn.LeakyReLU(0.2, True), nn.ReLU(True)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=bias)
            model = [downrelu, downconv, uprelu, upconv, norm(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=bias)
            model = [downrelu, downconv, norm(inner_nc), submodule, uprelu, upconv, norm(outer_nc)]
            if dropout:
                model += [nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, num_downs, ngf, norm_kind, dropout=True, input_nc=3, output_nc=3):
        super().__init__()
        if norm_kind == "batch":
            norm = lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
        else:
            norm = lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
        bias = norm_kind == "instance"
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm, bias=bias)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, bias=bias, dropout=dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm=norm, bias=bias)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm=norm, bias=bias)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm=norm, bias=bias)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                             norm=norm, bias=bias)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """junyanz's PatchGAN: a 4x4 stride-2 conv (bias, no norm), n_layers - 1 more stride-2
    conv-norm-LeakyReLU stages, a stride-1 one, and a stride-1 conv to one channel; every
    convolution pads by 1."""

    def __init__(self, input_nc, ndf, n_layers, norm_kind):
        super().__init__()
        norm, bias = norm_layer(norm_kind)
        sequence = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            previous, mult = mult, min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride=2, padding=1, bias=bias), norm(ndf * mult),
                         nn.LeakyReLU(0.2, True)]
        previous, mult = mult, min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride=1, padding=1, bias=bias), norm(ndf * mult),
                     nn.LeakyReLU(0.2, True)]
        sequence += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*sequence)

    def forward(self, x):
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """junyanz's 1x1 PixelGAN: conv (bias), LeakyReLU, conv, norm, LeakyReLU, conv."""

    def __init__(self, input_nc, ndf, norm_kind):
        super().__init__()
        norm, bias = norm_layer(norm_kind)
        self.net = nn.Sequential(nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
                                 nn.Conv2d(ndf, ndf * 2, 1, bias=bias), norm(ndf * 2), nn.LeakyReLU(0.2, True),
                                 nn.Conv2d(ndf * 2, 1, 1, bias=bias))

    def forward(self, x):
        return self.net(x)


def norm_layer(norm_kind):
    """junyanz's get_norm_layer, and whether convolutions under it have a bias."""
    if norm_kind == "batch":
        return (lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)), False
    return (lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)), True


def randomize(net):
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.2)
            if m.bias is not None:
                nn.init.normal_(m.bias, 0, 0.1)
        if isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1, 0.2)
            nn.init.normal_(m.bias, 0, 0.2)
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 2)
            m.num_batches_tracked.fill_(7)


def save_outputs(net, name, x, suffix="G"):
    torch.save(net.state_dict(), os.path.join(OUT, f"{name}_net_{suffix}.pth"))
    with torch.no_grad():
        net.eval()
        deterministic = net(x)
        net.train()
        for m in net.modules():
            if isinstance(m, nn.Dropout):
                m.p = 0.0  # batch statistics without dropout, to compare
        batch_statistics = net(x)
    np.savez(os.path.join(OUT, f"{name}.npz"), input=x.numpy(), deterministic=deterministic.numpy(),
             batch_statistics=batch_statistics.numpy())
    print(name, "written")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, norm_kind, downs, seed in [("unet_batch", "batch", 6, 3), ("unet_instance", "instance", 5, 4)]:
        torch.manual_seed(seed)
        net = UnetGenerator(num_downs=downs, ngf=4, norm_kind=norm_kind)
        randomize(net)
        save_outputs(net, name, torch.rand(2, 3, 64, 2 ** downs) * 2 - 1)
    for name, norm_kind, dropout, seed in [("resnet_batch", "batch", False, 1), ("resnet_instance", "instance", True, 2)]:
        torch.manual_seed(seed)
        net = ResnetGenerator(ngf=4, blocks=2, norm_kind=norm_kind, dropout=dropout)
        randomize(net)
        save_outputs(net, name, torch.rand(2, 3, 20, 24) * 2 - 1)
    for name, net, seed in [("patchgan_batch", lambda: NLayerDiscriminator(6, 4, 3, "batch"), 5),
                            ("pixelgan_instance", lambda: PixelDiscriminator(6, 4, "instance"), 6)]:
        torch.manual_seed(seed)
        d = net()
        randomize(d)
        save_outputs(d, name, torch.rand(2, 6, 32, 40) * 2 - 1, suffix="D")
    hostile()


class CallsSystem:
    """Pickles as a call of os.system (pickling it runs nothing)."""
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def hostile():
    """Files no reader may trust: a pickle that calls a function, a storage shorter than its
    tensor, a truncated archive, a zip without data.pkl, a pickled model instead of a state dict."""
    import io, pickle, zipfile
    good = open(os.path.join(OUT, "resnet_batch_net_G.pth"), "rb").read()

    def archive(name, entries):
        with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_STORED) as z:
            for entry, data in entries.items():  # fixed timestamps: the same bytes on every run
                z.writestr(zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0)), data)

    archive("hostile_calls_system.pth", {"archive/data.pkl": pickle.dumps(CallsSystem(), protocol=2),
                                         "archive/byteorder": b"little"})
    # A one-tensor state dict whose storage claims 1000 floats but holds 4.
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(4)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    pkl = [n for n in entries if n.endswith("data.pkl")][0]
    storage = [n for n in entries if "/data/" in n][0]
    entries[pkl] = entries[pkl].replace(b"K\x04", b"M\xe8\x03", 1)  # the storage's element count 4 -> 1000
    archive("hostile_short_storage.pth", entries)
    open(os.path.join(OUT, "hostile_truncated.pth"), "wb").write(good[: len(good) // 2])
    archive("hostile_no_pickle.pth", {"archive/data/0": b"\0" * 16})
    buffer = io.BytesIO()
    torch.save([torch.zeros(2)], buffer)
    open(os.path.join(OUT, "hostile_list.pth"), "wb").write(buffer.getvalue())
    print("hostile files written")


if __name__ == "__main__":
    main()
