"""The PyTorch twin of `swift run -c release digits`: the same data file, split, network,
initialisation and recipe, for comparing test accuracy (Docs/Digits.md).

    python3 Tools/digits/torch_digits.py [--epochs 15] [--batch-size 32] [--learning-rate 1e-3] [--seeds 0 1 2]

Needs numpy and torch. Reads Examples/Digits/Core/Data/digits.csv.gz; every fifth image
(index % 5 == 4) is the test set. The network: (conv3x3 'same' -> BatchNorm(eps 1e-3, momentum
0.01 = Keras's 0.99) -> ReLU) x2 -> max-pool 2 -> conv3x3 -> BN -> ReLU -> max-pool 2 -> flatten
(in NHWC order, as the Swift model) -> Linear(256, 64) -> ReLU -> dropout 0.2 -> Linear(64, 10);
Glorot-uniform weights and zero biases (the Swift defaults); Adam with a per-step cosine decay
to 0; cross-entropy.
"""
import argparse
import gzip
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "Examples", "Digits", "Core", "Data", "digits.csv.gz")


def load():
    with gzip.open(DATA, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = (rows[:, :64].astype(np.float32) / 16).reshape(-1, 1, 8, 8)
    labels = rows[:, 64]
    test = np.arange(len(rows)) % 5 == 4
    return (images[~test], labels[~test]), (images[test], labels[test])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        self.conv2, self.norm2 = nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
        self.conv3, self.norm3 = nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64, eps=1e-3, momentum=0.01)
        self.hidden, self.dropout, self.classifier = nn.Linear(256, 64), nn.Dropout(0.2), nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.max_pool2d(F.relu(self.norm2(self.conv2(y))), 2)
        y = F.max_pool2d(F.relu(self.norm3(self.conv3(y))), 2)
        y = y.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as Flatten in the Swift model
        return self.classifier(self.dropout(F.relu(self.hidden(y))))


def run(seed, epochs, batch_size, learning_rate):
    torch.manual_seed(seed)
    (xtr, ytr), (xte, yte) = load()
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    steps = math.ceil(len(xtr) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps)
    generator = np.random.default_rng(seed + 1)
    xtr, ytr = torch.tensor(xtr), torch.tensor(ytr)
    for _ in range(epochs):
        model.train()
        order = generator.permutation(len(xtr))
        for step in range(steps):
            idx = order[step * batch_size:(step + 1) * batch_size]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        predicted = model(torch.tensor(xte)).argmax(1).numpy()
    return float((predicted == yte).mean())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for seed in args.seeds:
        accuracy = run(seed, args.epochs, args.batch_size, args.learning_rate)
        print(f"seed {seed}: test accuracy {accuracy * 100:.2f}% ({round(accuracy * 359)} of 359)")
