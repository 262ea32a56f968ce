#!/usr/bin/python3
"""Writes the .pt fixtures kiln's TorchPt reader is tested on, each beside a text file of
expected values that the C++ test reads without PyTorch:

  lenet1.pt           torch.save(LeNet().state_dict()) for the blitz LeNet with 1 input channel,
                      default initialisation after torch.manual_seed(3)
  lenet1_input2.npy   torch.randn(2, 1, 32, 32) after torch.manual_seed(4)
  lenet1_logits2.npy  LeNet's logits for that input (for checking kiln's predictions)
  strided.pt          views with strides and storage offsets, float64, int64, a 0-d tensor
  *_expected.txt      one line per tensor, in state_dict order:
                      name dtype shape crc32 first-values
                      shape is comma-separated ("-" for 0-d), crc32 is zlib.crc32 of the
                      tensor's C-contiguous little-endian bytes, first-values are up to 5
                      elements in row-major order, printed so they round-trip exactly.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 tests/golden/pt/make_pt_fixture.py"""
import os
import sys
import zlib
from collections import OrderedDict

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print("make_pt_fixture.py: skipped, needs PyTorch and numpy (run with /usr/bin/python3)")
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))


class LeNet(nn.Module):
    """The blitz network with a 1-channel 32x32 input, as in tests/golden/make_lenet_golden.py."""

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


def expected_line(name, tensor):
    array = tensor.detach().contiguous().numpy()
    blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
    shape = ",".join(str(s) for s in array.shape) or "-"
    firsts = [repr(v.item()) for v in array.reshape(-1)[:5]]
    return " ".join([name, str(array.dtype), shape, "%08x" % zlib.crc32(blob)] + firsts)


def save(stem, state):
    torch.save(state, os.path.join(HERE, stem + ".pt"))
    with open(os.path.join(HERE, stem + "_expected.txt"), "w") as f:
        for name, tensor in state.items():
            f.write(expected_line(name, tensor) + "\n")


def main():
    torch.set_num_threads(1)  # one summation order, so a rerun reproduces the logits bit for bit
    torch.manual_seed(3)
    net = LeNet()
    save("lenet1", net.state_dict())
    torch.manual_seed(4)
    inputs = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        logits = net(inputs)
    np.save(os.path.join(HERE, "lenet1_input2.npy"), inputs.numpy())
    np.save(os.path.join(HERE, "lenet1_logits2.npy"), logits.numpy())

    base = torch.arange(12, dtype=torch.float32) * 0.5
    strided = OrderedDict()
    strided["transposed"] = base.reshape(3, 4).t()            # strides (1, 4)
    strided["offset"] = base[5:9]                             # storage offset 5, shares base
    strided["every_other"] = base.reshape(3, 4)[:, ::2]       # strides (4, 2)
    strided["f64"] = torch.tensor([[0.1, -2.5], [1e300, 3.0]], dtype=torch.float64)
    strided["i64"] = torch.tensor([-(2 ** 62), -1, 0, 7, 2 ** 40], dtype=torch.int64)
    strided["scalar"] = torch.tensor(1.25)
    strided["empty"] = torch.zeros(0, 3)
    save("strided", strided)
    print("wrote lenet1.pt, strided.pt and their expected values under %s" % os.path.relpath(HERE))


if __name__ == "__main__":
    main()
