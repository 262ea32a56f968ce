#!/usr/bin/python3
"""PyTorch's side of the kiln benchmarks: the 60-minute-blitz training recipe (LeNet, 1 input
channel, SGD lr 0.001 momentum 0.9, batch 4) on Fashion-MNIST padded to 32x32.

usage: pytorch_lenet.py [--epochs E] [--batch B] [--steps S] [--threads T] [--seed N] [--json]
Prints `key: value` lines, or one JSON object with --json. Throughput counts only the training
loop (forward, loss, backward, optimizer step), not loading the data or the test pass."""
import argparse
import gzip
import json
import os
import resource
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.exit("pytorch_lenet.py: needs PyTorch and numpy; install them with scripts/deps.sh --bench "
             "and run with /usr/bin/python3")

DATA_DIR = "/usr/share/datasets/fashion-mnist"
LOG_EVERY = 2000


def read_idx(name):
    """Reads a gzipped IDX file: images as uint8 [N,1,H,W], labels as int64 [N]."""
    with gzip.open(os.path.join(DATA_DIR, name), "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def to_input(images):
    """Scales [0,255] to [-1,1] and pads 28x28 to LeNet's 32x32 with the background value."""
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    return F.pad((x - 0.5) / 0.5, (2, 2, 2, 2), value=-1.0)


class LeNet(nn.Module):
    def __init__(self, in_channels=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 400)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def run(batch, epochs, steps, threads, seed, log=None):
    """Trains and tests once; returns the figures as a dict. `log` receives the loss lines."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    train_x = to_input(read_idx("train-images-idx3-ubyte.gz"))
    train_y = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz"))
    test_x = to_input(read_idx("t10k-images-idx3-ubyte.gz"))
    test_y = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz"))

    net = LeNet()
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    count = train_x.shape[0]
    steps_per_epoch = count // batch if steps <= 0 else min(count // batch, steps)

    images, last_loss = 0, None
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(count)
        running = 0.0
        for step in range(1, steps_per_epoch + 1):
            pick = order[(step - 1) * batch:step * batch]
            opt.zero_grad()
            loss = loss_fn(net(train_x[pick]), train_y[pick])
            loss.backward()
            opt.step()
            running += loss.item()
            images += batch
            if step % LOG_EVERY == 0:
                last_loss = running / LOG_EVERY
                running = 0.0
                if log:
                    log("[%d, %5d] loss: %.3f" % (epoch, step, last_loss))
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    correct = 0
    with torch.no_grad():
        for k in range(0, test_x.shape[0], 1000):
            correct += (net(test_x[k:k + 1000]).argmax(1) == test_y[k:k + 1000]).sum().item()
    eval_s = time.perf_counter() - start

    return {
        "torch_version": torch.__version__,
        "threads": threads,
        "batch": batch,
        "steps": steps_per_epoch * epochs,
        "train_images_per_s": images / train_s,
        "train_s": train_s,
        "last_logged_loss": last_loss,
        "eval_images_per_s": test_x.shape[0] / eval_s,
        "test_accuracy": correct / test_x.shape[0],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=0, help="stop each epoch after S steps (0: whole epoch)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of key: value lines")
    a = ap.parse_args()
    log = None if a.json else (lambda line: print(line, flush=True))
    result = run(a.batch, a.epochs, a.steps, a.threads, a.seed, log)
    if a.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print("%s: %s" % (key, "%.4g" % value if isinstance(value, float) else value))


if __name__ == "__main__":
    main()
