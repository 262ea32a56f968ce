#!/usr/bin/env python3
"""PyTorch's side of scripts/gpu-check.sh: training images/s of the blitz recipe (LeNet with 1 input
channel on 32x32 images, cross-entropy, SGD lr 0.001 momentum 0.9) in eager mode on CUDA.

usage: gpu_torch.py [--batches 4,256] [--steps 5000,500] [--device cuda]
Inputs are synthetic: 16 random batches made on the device before timing, so no step copies from
the host (kiln's side copies every batch from host memory). Each batch size warms up for 50 steps,
then times --steps steps of zero_grad, forward, loss, backward and step, with no loss.item() in the
loop (kiln's side takes its losses once at the end too), between two torch.cuda.synchronize().
Prints one line per batch size, `torch_cuda batch=4 images_per_s=...`; where torch or its CUDA is
missing, one line saying so, and exits 0 either way. --device cpu runs the same loop on the CPU."""
import argparse
import sys
import time

WARMUP_STEPS = 50
BATCHES = 16

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as error:
    print("torch: not importable (%s)" % error)
    sys.exit(0)


class LeNet(nn.Module):
    """The blitz's network, as bench/pytorch_lenet.py and kiln's models/ have it."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
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


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(device, batch, steps):
    torch.manual_seed(0)
    net = LeNet().to(device)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    images = torch.rand(BATCHES, batch, 1, 32, 32, device=device) * 2 - 1
    labels = torch.randint(0, 10, (BATCHES, batch), device=device)

    def step(i):
        opt.zero_grad()
        loss = loss_fn(net(images[i % BATCHES]), labels[i % BATCHES])
        loss.backward()
        opt.step()

    for i in range(WARMUP_STEPS):
        step(i)
    synchronize(device)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    synchronize(device)
    return steps * batch / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="4,256")
    ap.add_argument("--steps", default="5000,500", help="timed steps per batch size, in order")
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    batches = [int(b) for b in a.batches.split(",")]
    steps = [int(s) for s in a.steps.split(",")]
    if len(steps) != len(batches):
        sys.exit("gpu_torch.py: --steps needs one count per batch size")
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch %s: CUDA not available" % torch.__version__)
        return
    device = torch.device(a.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print("torch %s on %s" % (torch.__version__, name), flush=True)
    for batch, count in zip(batches, steps):
        print("torch_%s batch=%d images_per_s=%.0f" % (device.type, batch,
                                                      images_per_second(device, batch, count)),
              flush=True)


if __name__ == "__main__":
    main()
