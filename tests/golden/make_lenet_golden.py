#!/usr/bin/python3
"""Writes tests/golden/lenet1_batch4.safetensors: PyTorch reference values for kiln's LeNet
(1 input channel) on one fixed batch of 4 -- forward logits, mean cross-entropy loss, every
parameter gradient, and the parameters after 3 SGD (lr 0.01, momentum 0.9) steps.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 tests/golden/make_lenet_golden.py
The safetensors format is written by hand (numpy + json + struct) so no extra package is needed."""
import copy
import json
import os
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("make_lenet_golden.py: skipped, needs PyTorch and numpy (scripts/deps.sh --bench; run with /usr/bin/python3)")
    sys.exit(0)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lenet1_batch4.safetensors")
SGD_LR, SGD_MOMENTUM, SGD_STEPS = 0.01, 0.9, 3
DTYPES = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}


class LeNet(nn.Module):
    """The blitz network with a 1-channel 32x32 input (Fashion-MNIST padded from 28x28)."""

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


def write_safetensors(path, tensors, metadata):
    """Header: u64 little-endian length, then JSON padded with spaces to a multiple of 8;
    then each tensor's little-endian bytes, in name order. Written to a temporary name, then renamed."""
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[name] = {"dtype": DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def numpy_of(t):
    return t.detach().cpu().numpy().copy()


def main():
    torch.set_num_threads(1)  # one summation order, so a rerun reproduces the file bit for bit
    torch.manual_seed(0)
    net = LeNet()
    initial = copy.deepcopy(net)
    torch.manual_seed(1)
    inputs = torch.randn(4, 1, 32, 32)
    labels = torch.tensor([3, 7, 0, 9], dtype=torch.int64)

    tensors = {"input": numpy_of(inputs), "labels": numpy_of(labels)}
    tensors.update({name: numpy_of(p) for name, p in net.named_parameters()})

    logits = net(inputs)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    tensors["logits"] = numpy_of(logits)
    tensors["loss"] = numpy_of(loss)
    tensors.update({"grad." + name: numpy_of(p.grad) for name, p in net.named_parameters()})

    trained = initial
    opt = torch.optim.SGD(trained.parameters(), lr=SGD_LR, momentum=SGD_MOMENTUM)
    sgd_losses = []
    for _ in range(SGD_STEPS):
        opt.zero_grad()
        step_loss = F.cross_entropy(trained(inputs), labels)
        step_loss.backward()
        opt.step()
        sgd_losses.append(step_loss.item())
    tensors["sgd.losses"] = np.array(sgd_losses, dtype=np.float32)
    tensors.update({"sgd." + name: numpy_of(p) for name, p in trained.named_parameters()})

    metadata = {
        "torch_version": torch.__version__,
        "generator": "tests/golden/make_lenet_golden.py",
        "recipe": "blitz LeNet, 1 input channel 32x32; torch.manual_seed(0) default init; "
                  "input = torch.randn(4,1,32,32) after torch.manual_seed(1); labels [3,7,0,9]; "
                  "mean cross-entropy; grad.* from one backward; sgd.* = parameters after %d steps "
                  "of SGD(lr=%g, momentum=%g) on the same batch, sgd.losses = loss before each step"
                  % (SGD_STEPS, SGD_LR, SGD_MOMENTUM),
    }
    write_safetensors(OUT, tensors, metadata)
    print("wrote %s (%d tensors, %d bytes)" % (os.path.relpath(OUT), len(tensors), os.path.getsize(OUT)))
    print("loss: %.8f" % loss.item())
    print("sgd.losses: %s" % " ".join("%.8f" % v for v in sgd_losses))


if __name__ == "__main__":
    main()
