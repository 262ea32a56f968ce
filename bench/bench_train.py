#!/usr/bin/python3
"""Training throughput of kiln against PyTorch, side by side, on the blitz recipe (LeNet on
Fashion-MNIST, SGD lr 0.001 momentum 0.9), one run per batch size, same steps and threads.

usage: bench/bench_train.py [--batches 4,64] [--steps 3000] [--threads 2] [--out FILE] [--kiln PATH]
Prints a table and writes the figures as JSON to --out (default bench/results/train.json)."""
import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_SCRIPT = os.path.join(ROOT, "bench", "pytorch_lenet.py")


def fail(message):
    sys.exit("bench_train.py: " + message)


def thread_env(threads):
    """Both sides see the same thread count, whichever threading library they use."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    return env


def run_kiln(kiln, batch, steps, threads):
    """Runs `kiln train` for one epoch capped at `steps`; returns its metrics records."""
    fd, metrics = tempfile.mkstemp(prefix="kiln-metrics-", suffix=".jsonl")
    os.close(fd)
    try:
        cmd = [kiln, "train", "--batch-size", str(batch), "--epochs", "1", "--max-steps", str(steps),
               "--threads", str(threads), "--metrics", metrics]
        proc = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True)
        if proc.returncode != 0:
            fail("kiln failed (exit %d): %s\n%s" % (proc.returncode, " ".join(cmd), proc.stderr.strip()))
        with open(metrics) as f:
            records = [json.loads(line) for line in f if line.strip()]
    finally:
        os.remove(metrics)
    train_end = next((r for r in records if r.get("event") == "train_end"), None)
    if train_end is None:
        fail("kiln's metrics file has no {\"event\": \"train_end\"} record")
    test = next((r for r in records if r.get("event") == "test"), {})
    return {"train_images_per_s": train_end["images_per_s"], "train_s": train_end.get("train_s"),
            "test_accuracy": test.get("accuracy")}


def run_torch(batch, steps, threads):
    """Runs bench/pytorch_lenet.py in its own process, so each side starts equally cold."""
    cmd = [sys.executable, TORCH_SCRIPT, "--batch", str(batch), "--epochs", "1", "--steps", str(steps),
           "--threads", str(threads), "--json"]
    proc = subprocess.run(cmd, env=thread_env(threads), capture_output=True, text=True)
    if proc.returncode != 0:
        fail("PyTorch run failed (exit %d): %s\n%s" % (proc.returncode, " ".join(cmd), proc.stderr.strip()))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_json(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="4,64", help="comma-separated batch sizes (default 4,64)")
    ap.add_argument("--steps", type=int, default=3000, help="training steps per batch size (default 3000)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both kiln and PyTorch (default 2)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "train.json"))
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "tools", "kiln"), help="kiln binary")
    a = ap.parse_args()
    try:
        batches = [int(b) for b in a.batches.split(",") if b.strip()]
    except ValueError:
        fail("--batches takes comma-separated integers, e.g. 4,64")
    if not batches or min(batches) <= 0 or a.steps <= 0 or a.threads <= 0:
        fail("--batches, --steps and --threads must be positive")

    if not os.access(a.kiln, os.X_OK):
        fail("no kiln binary at %s; build it with scripts/build.sh" % a.kiln)
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("numpy") is None:
        fail("PyTorch is missing; install it with scripts/deps.sh --bench and run with /usr/bin/python3")

    rows = []
    print("%6s %14s %14s %12s" % ("batch", "kiln img/s", "torch img/s", "kiln/torch"), flush=True)
    for batch in batches:
        kiln = run_kiln(a.kiln, batch, a.steps, a.threads)
        torch = run_torch(batch, a.steps, a.threads)
        ratio = kiln["train_images_per_s"] / torch["train_images_per_s"]
        rows.append({"batch": batch, "kiln": kiln, "torch": torch, "ratio_kiln_over_torch": ratio})
        print("%6d %14.0f %14.0f %12.2f" % (batch, kiln["train_images_per_s"], torch["train_images_per_s"],
                                            ratio), flush=True)

    write_json(a.out, {
        "benchmark": "train", "steps": a.steps, "threads": a.threads,
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "torch_version": rows[0]["torch"]["torch_version"] if rows else None,
        "results": rows,
    })
    print("wrote %s" % os.path.relpath(a.out))


if __name__ == "__main__":
    main()
