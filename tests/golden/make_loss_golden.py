#!/usr/bin/python3
"""Writes tests/golden/losses.safetensors: PyTorch's CrossEntropyLoss and MSELoss with each
reduction (mean, sum, none) on fixed inputs, their values and gradients, for
tests/integration/LossGoldenTest.cpp.

Run with Debian's interpreter, which has python3-torch:  /usr/bin/python3 tests/golden/make_loss_golden.py"""
import os
import sys

try:
    import numpy as np  # noqa: F401  (numpy_of and write_safetensors need it)
    import torch
except ImportError:
    print("make_loss_golden.py: skipped, needs PyTorch and numpy (scripts/deps.sh --bench; run with /usr/bin/python3)")
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_lenet_golden import numpy_of, write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.safetensors")
REDUCTIONS = ("mean", "sum", "none")
N, C = 5, 7          # cross-entropy: logits [N, C], labels [N]
MSE_SHAPE = (3, 4)


def value_and_grads(loss_fn, leaves, weights, reduction):
    """The loss and the gradients of the leaves: of the loss itself for mean and sum, of
    sum(loss * weights) for none (a vector-Jacobian product with a non-trivial cotangent)."""
    leaves = [leaf.clone().requires_grad_(True) for leaf in leaves]
    loss = loss_fn(*leaves, reduction=reduction)
    objective = (loss * weights).sum() if reduction == "none" else loss
    objective.backward()
    return loss, [leaf.grad for leaf in leaves]


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    logits = torch.randn(N, C) * 2
    labels = torch.randint(0, C, (N,), dtype=torch.int64)
    ce_weights = torch.randn(N)
    mse_input = torch.randn(*MSE_SHAPE)
    mse_target = torch.randn(*MSE_SHAPE)
    mse_weights = torch.randn(*MSE_SHAPE)

    tensors = {"ce.logits": numpy_of(logits), "ce.labels": numpy_of(labels),
               "ce.weights": numpy_of(ce_weights), "mse.input": numpy_of(mse_input),
               "mse.target": numpy_of(mse_target), "mse.weights": numpy_of(mse_weights)}
    for reduction in REDUCTIONS:
        loss, (dlogits,) = value_and_grads(
            lambda x, reduction: torch.nn.CrossEntropyLoss(reduction=reduction)(x, labels),
            [logits], ce_weights, reduction)
        tensors["ce.%s.loss" % reduction] = numpy_of(loss)
        tensors["ce.%s.grad_logits" % reduction] = numpy_of(dlogits)

        loss, (dinput, dtarget) = value_and_grads(
            lambda x, t, reduction: torch.nn.MSELoss(reduction=reduction)(x, t),
            [mse_input, mse_target], mse_weights, reduction)
        tensors["mse.%s.loss" % reduction] = numpy_of(loss)
        tensors["mse.%s.grad_input" % reduction] = numpy_of(dinput)
        tensors["mse.%s.grad_target" % reduction] = numpy_of(dtarget)

    metadata = {
        "torch_version": torch.__version__,
        "generator": "tests/golden/make_loss_golden.py",
        "recipe": "torch.manual_seed(0); ce.logits = randn(%d,%d)*2, ce.labels = randint(0,%d,(%d,)), "
                  "ce.weights = randn(%d); mse.input, mse.target, mse.weights = randn%s each; "
                  "<loss>.<reduction>.loss = the loss; .grad_* = gradient of the loss (mean, sum) "
                  "or of sum(loss * weights) (none)" % (N, C, C, N, N, MSE_SHAPE),
    }
    write_safetensors(OUT, tensors, metadata)
    print("wrote %s (%d tensors, %d bytes)" % (os.path.relpath(OUT), len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
