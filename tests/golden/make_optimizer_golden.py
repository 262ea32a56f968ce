#!/usr/bin/python3
"""Writes tests/golden/optimizers.safetensors: PyTorch's SGD, Adam and RMSProp updates of two small
parameters over 3 steps with fixed gradients, for tests/integration/OptimizerGoldenTest.cpp.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 tests/golden/make_optimizer_golden.py
The hyper-parameters below are repeated in the C++ test; change both together."""
import os
import sys

try:
    import numpy as np
    import torch
except ImportError:
    print("make_optimizer_golden.py: skipped, needs PyTorch and numpy (scripts/deps.sh --bench; run with /usr/bin/python3)")
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_lenet_golden import numpy_of, write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizers.safetensors")
STEPS = 3
# foreach=False: PyTorch 1.13's single-tensor loops, the rule kiln's ops follow.
OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01, foreach=False),
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1,
                                              weight_decay=0.01, foreach=False),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                              weight_decay=0.01, foreach=False),
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, foreach=False),
    "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1,
                                               amsgrad=True, foreach=False),
    "adam_weight_decay": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.85, 0.95), eps=1e-3,
                                                    weight_decay=0.05, foreach=False),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, foreach=False),
    "rmsprop_momentum": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.95, eps=1e-3,
                                                      momentum=0.9, foreach=False),
    "rmsprop_centered_plain": lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True,
                                                            foreach=False),
    "rmsprop_centered": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, weight_decay=0.1,
                                                      momentum=0.5, centered=True, foreach=False),
}


def run(make, initial, grads):
    """The parameters after each step, starting from `initial`, step k using grads[k]."""
    params = {name: torch.nn.Parameter(value.clone()) for name, value in initial.items()}
    opt = make(list(params.values()))
    after = []
    for step_grads in grads:
        for name, p in params.items():
            p.grad = step_grads[name].clone()
        opt.step()
        after.append({name: p.detach().clone() for name, p in params.items()})
    return after


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    # Magnitudes in [1, 2], so no parameter comes near zero within 3 steps and a relative
    # tolerance stays meaningful.
    def away_from_zero(*shape):
        return torch.sign(torch.randn(*shape)) * (1 + torch.rand(*shape))
    initial = {"a": away_from_zero(3, 4), "b": away_from_zero(5)}
    # Shrinking gradients, so that the squared-gradient average falls and AMSGrad's maximum
    # differs from it.
    grads = [{name: torch.randn(value.shape) * scale for name, value in initial.items()}
             for scale in (1.0, 0.5, 0.1)]

    tensors = {name: numpy_of(value) for name, value in initial.items()}
    for k, step_grads in enumerate(grads):
        tensors.update({"grad%d.%s" % (k, name): numpy_of(g) for name, g in step_grads.items()})
    results = {}
    for label, make in OPTIMIZERS.items():
        results[label] = run(make, initial, grads)
        for k, params in enumerate(results[label]):
            tensors.update({"%s.%d.%s" % (label, k, name): numpy_of(p) for name, p in params.items()})

    # The cases must tell the options apart, or a test could pass while ignoring one.
    plain_amsgrad = run(lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.9), weight_decay=0.1,
                                                   foreach=False), initial, grads)
    assert not torch.equal(plain_amsgrad[-1]["a"], results["adam_amsgrad"][-1]["a"])
    centered_momentum = run(lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.95, eps=1e-3,
                                                          momentum=0.9, centered=True,
                                                          foreach=False), initial, grads)
    assert not torch.equal(centered_momentum[-1]["a"], results["rmsprop_momentum"][-1]["a"])

    metadata = {
        "torch_version": torch.__version__,
        "generator": "tests/golden/make_optimizer_golden.py",
        "recipe": "a [3,4], b [5] (torch.manual_seed(0)); gradK.* = gradient of step K; "
                  "<optimizer>.K.* = parameters after step K; hyper-parameters in the script",
    }
    write_safetensors(OUT, tensors, metadata)
    print("wrote %s (%d tensors, %d bytes)" % (os.path.relpath(OUT), len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
