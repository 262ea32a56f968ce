#!/usr/bin/python3
"""All of issue 3's benchmarks, kiln against PyTorch side by side, in one invocation.

usage: bench/bench_all.py [--quick] [--threads 2] [--repeat 1] [--out FILE] [--kiln PATH]

Rows: training images/s at batch 4, 64 and 256 and inference images/s at batch 1 and 1000 (random
data: `kiln bench` against the same loop in PyTorch), peak RSS of the default `kiln train` against
bench/pytorch_lenet.py --epochs 2, and the JIT compile time of LeNet's train step, cold and from the
on-disk cache. Each row shows kiln/torch and issue 3's target. Prints a table and writes JSON to
--out (default bench/results/all.json). Run it with Debian's /usr/bin/python3, which has torch."""
import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH_SCRIPT = os.path.join(ROOT, "bench", "pytorch_lenet.py")

PEAK_SOURCE = os.path.join(ROOT, "bench", "peak_fma.c")
PEAK_FALLBACK_GFLOPS = 60.0  # one core's fp32 peak when bench/peak_fma.c cannot be built
QUICK_STEPS = 3000  # --quick: steps per epoch of `kiln train` and of the PyTorch script

# (kind, batch, issue-3 target for kiln/torch or None)
THROUGHPUT_ROWS = [("train", 4, 10.0), ("train", 64, 3.0), ("train", 256, None),
                   ("predict", 1, None), ("predict", 1000, 8.0)]
RSS_TARGET = 0.25          # kiln's peak RSS <= 1/4 of PyTorch's
COMPILE_COLD_TARGET = 2.0  # seconds
COMPILE_WARM_TARGET = 0.2  # seconds


def fail(message):
    sys.exit("bench_all.py: " + message)


# --------------------------------------------------------------------------------------------
# FLOPs per image, from LeNet's layer shapes (input 1x32x32).
#
# A multiply-add counts as 2 FLOPs. conv: 2 * C_out * H_out * W_out * C_in * K * K;
# linear: 2 * in * out. Bias adds, ReLU, max-pool and the loss are comparisons/adds of the order
# of the activations' size (a few thousand per image, <1%) and are not counted, as is usual.
# Forward: sum over layers. Training step: forward, plus for each layer a weight gradient (the same
# multiply-adds as its forward) and an input gradient (again the same), except conv1 whose input
# gradient is not needed: 3 * forward - conv1. The optimizer update (SGD with momentum, ~4 FLOPs
# per parameter per step, i.e. 4 * 61706 / batch per image) is left out: it is per step, not per
# image, and at batch 4 adds ~3%.
# --------------------------------------------------------------------------------------------
LENET_LAYERS = [
    # name, kind, shape
    ("conv1", "conv", dict(c_in=1, c_out=6, k=5, h_out=28, w_out=28)),
    ("conv2", "conv", dict(c_in=6, c_out=16, k=5, h_out=10, w_out=10)),
    ("fc1", "linear", dict(n_in=16 * 5 * 5, n_out=120)),
    ("fc2", "linear", dict(n_in=120, n_out=84)),
    ("fc3", "linear", dict(n_in=84, n_out=10)),
]


def layer_flops(kind, s):
    if kind == "conv":
        return 2 * s["c_out"] * s["h_out"] * s["w_out"] * s["c_in"] * s["k"] * s["k"]
    return 2 * s["n_in"] * s["n_out"]


def lenet_flops():
    per_layer = {name: layer_flops(kind, s) for name, kind, s in LENET_LAYERS}
    forward = sum(per_layer.values())
    train = 3 * forward - per_layer["conv1"]
    return {"per_layer_forward": per_layer, "forward_per_image": forward, "train_step_per_image": train}


# --------------------------------------------------------------------------------------------
# Running things
# --------------------------------------------------------------------------------------------
def peak_gflops_per_core():
    """One core's fp32 FMA peak: bench/peak_fma.c built with -march=native and run.
    Returns (GFLOP/s, how it was found)."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "peak_fma")
        try:
            subprocess.run(["cc", "-std=c11", "-O2", "-march=native", PEAK_SOURCE, "-o", exe],
                           check=True, capture_output=True)
            out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
            value = float(out.split("peak_gflops_per_core=")[1].split()[0])
            bits = out.split("vector_bits=")[1].split()[0]
            return value, "measured by bench/peak_fma.c, %s-bit FMA" % bits
        except (OSError, subprocess.CalledProcessError, IndexError, ValueError) as e:
            print("bench_all: bench/peak_fma.c did not build or run (%s); %%pk assumes %g GFLOP/s "
                  "per core" % (e, PEAK_FALLBACK_GFLOPS), file=sys.stderr)
            return PEAK_FALLBACK_GFLOPS, "assumed"


def thread_env(threads):
    """Both sides see the same thread count, whichever threading library they use."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    return env


TIME = "/usr/bin/time"  # Debian's `time`: reports the peak RSS of the command alone
RSS_MARK = "KILN_PEAK_RSS_KB="


def run_measured(cmd, env):
    """Runs cmd to completion; returns (exit code, stdout, stderr, wall s, peak RSS in KiB,
    rusage).
    The peak comes from /usr/bin/time, which runs cmd as its own child: ru_maxrss of a child
    forked straight from this process would start at this process's size (torch loaded)."""
    timed = [TIME, "-f", RSS_MARK + "%M"] + cmd if os.path.exists(TIME) else cmd
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(timed, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        err_text = err.read().decode(errors="replace")
        peak_kib = usage.ru_maxrss
        lines = err_text.splitlines()
        if lines and lines[-1].startswith(RSS_MARK):
            peak_kib = int(lines[-1][len(RSS_MARK):])
            err_text = "\n".join(lines[:-1])
        return (proc.returncode, out.read().decode(errors="replace"), err_text, wall, peak_kib,
                usage)


class Kiln:
    def __init__(self, path, threads):
        self.path = path
        self.threads = threads
        self.env = thread_env(threads)
        proc = subprocess.run([path, "bench", "--help"], capture_output=True, text=True)
        if proc.returncode != 0:
            fail("%s has no `bench` command; rebuild it (scripts/build.sh) or pass --kiln PATH" % path)
        # Older kiln binaries have no `kiln bench --threads` (and ran on one thread).
        self.bench_takes_threads = "--threads" in proc.stdout

    def bench(self, mode, batch, steps, cold=False):
        cmd = [self.path, "bench", "--mode", mode, "--batch-size", str(batch), "--steps", str(steps),
               "--model", "lenet"]
        if cold:
            cmd.append("--cold")
        if self.bench_takes_threads:
            cmd += ["--threads", str(self.threads)]
        rc, out, err, wall, _, usage = run_measured(cmd, self.env)
        if rc != 0:
            fail("kiln failed (exit %d): %s\n%s" % (rc, " ".join(cmd), err.strip()))
        lines = [l for l in out.splitlines() if l.strip().startswith("{")]
        if not lines:
            fail("kiln bench printed no JSON: %s\n%s" % (" ".join(cmd), out))
        record = json.loads(lines[-1])
        record["process_wall_s"] = wall
        record["process_cpu_s"] = usage.ru_utime + usage.ru_stime
        return record

    def train(self, max_steps):
        """The default `kiln train` (Fashion-MNIST, blitz recipe, 2 epochs at batch 4)."""
        fd, metrics = tempfile.mkstemp(prefix="kiln-metrics-", suffix=".jsonl")
        os.close(fd)
        try:
            cmd = [self.path, "train", "--threads", str(self.threads), "--metrics", metrics]
            if max_steps:
                cmd += ["--max-steps", str(max_steps)]
            rc, _, err, wall, peak_kib, usage = run_measured(cmd, self.env)
            if rc != 0:
                fail("kiln failed (exit %d): %s\n%s" % (rc, " ".join(cmd), err.strip()))
            with open(metrics) as f:
                records = [json.loads(line) for line in f if line.strip()]
        finally:
            os.remove(metrics)
        end = next((r for r in records if r.get("event") == "train_end"), {})
        test = next((r for r in records if r.get("event") == "test"), {})
        return {"command": " ".join(cmd),
                "peak_rss_mib": peak_kib / 1024, "wall_s": wall,
                "train_images_per_s": end.get("images_per_s"), "test_accuracy": test.get("accuracy")}


def torch_blitz(threads, max_steps):
    """bench/pytorch_lenet.py --epochs 2 in its own process; peak RSS from /usr/bin/time."""
    cmd = [sys.executable, TORCH_SCRIPT, "--epochs", "2", "--threads", str(threads), "--json"]
    if max_steps:
        cmd += ["--steps", str(max_steps)]
    rc, out, err, wall, peak_kib, _ = run_measured(cmd, thread_env(threads))
    if rc != 0:
        fail("PyTorch run failed (exit %d): %s\n%s" % (rc, " ".join(cmd), err.strip()))
    result = json.loads(out.strip().splitlines()[-1])
    return {"command": " ".join(cmd), "peak_rss_mib": peak_kib / 1024, "wall_s": wall,
            "train_images_per_s": result["train_images_per_s"], "test_accuracy": result["test_accuracy"]}


class Torch:
    """The PyTorch side of the random-data rows, in this process (torch is imported only after
    OMP_NUM_THREADS & co. are set, so its thread pools see them)."""

    def __init__(self, threads):
        os.environ.update(thread_env(threads))
        spec = importlib.util.spec_from_file_location("pytorch_lenet", TORCH_SCRIPT)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        self.torch = mod.torch
        self.nn = mod.nn
        self.LeNet = mod.LeNet
        self.torch.set_num_threads(threads)
        self.version = self.torch.__version__
        self.threads = self.torch.get_num_threads()

    def bench(self, mode, batch, steps):
        torch = self.torch
        torch.manual_seed(0)
        net = self.LeNet()
        x = torch.randn(batch, 1, 32, 32)
        y = torch.randint(0, 10, (batch,))
        if mode == "train":
            loss_fn = self.nn.CrossEntropyLoss()
            opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

            def step():
                opt.zero_grad()
                loss = loss_fn(net(x), y)
                loss.backward()
                opt.step()
        else:
            net.eval()

            def step():
                with torch.no_grad():
                    net(x)
        for _ in range(min(steps // 10 + 1, 50)):  # warm-up, as kiln bench does
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        seconds = time.perf_counter() - start
        return {"mode": mode, "batch": batch, "steps": steps, "images_per_s": steps * batch / seconds,
                "us_per_step": 1e6 * seconds / steps}


# --------------------------------------------------------------------------------------------
def steps_for(mode, batch, images):
    """Fixed work per row: about `images` images, at least 10 steps."""
    return max(10, images // batch)


def status(ratio, target, lower_is_better=False):
    if target is None or ratio is None:
        return "-"
    ok = ratio <= target if lower_is_better else ratio >= target
    return "met" if ok else "MISSED"


def write_json(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="threads for both kiln and PyTorch (default 2)")
    ap.add_argument("--quick", action="store_true",
                    help="cap the RSS runs (kiln train, pytorch_lenet.py) at %d steps per epoch and "
                         "time fewer images per throughput row" % QUICK_STEPS)
    ap.add_argument("--train-images", type=int, default=0,
                    help="images timed per training row (default 40000, --quick 10000)")
    ap.add_argument("--predict-images", type=int, default=0,
                    help="images timed per inference row (default 40000, --quick 10000)")
    ap.add_argument("--repeat", type=int, default=1, help="time each throughput row R times, keep the best")
    ap.add_argument("--kiln-threads", type=int, default=1,
                    help="threads kiln's code runs on, for the %%-of-peak figure, when kiln bench's JSON "
                         "has no `threads` field (older kiln binaries ran on one thread; default 1)")
    ap.add_argument("--skip-rss", action="store_true", help="leave out the peak-RSS row (the slowest)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "all.json"))
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "tools", "kiln"), help="kiln binary")
    a = ap.parse_args()
    if a.threads <= 0 or a.repeat <= 0 or a.kiln_threads <= 0:
        fail("--threads, --repeat and --kiln-threads must be positive")
    train_images = a.train_images or (10000 if a.quick else 40000)
    predict_images = a.predict_images or (10000 if a.quick else 40000)
    rss_steps = QUICK_STEPS if a.quick else 0

    if not os.access(a.kiln, os.X_OK):
        fail("no kiln binary at %s; build it with scripts/build.sh" % a.kiln)
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("numpy") is None:
        fail("PyTorch is missing; install it with scripts/deps.sh --bench and run with /usr/bin/python3")

    t0 = time.perf_counter()
    load_before = os.getloadavg()
    if load_before[0] > 0.5:
        print("warning: load average %.2f before starting: other work shares the CPUs, so figures are "
              "noisy; PyTorch's OpenMP pool can slow down many-fold when one of its %d threads has no "
              "free core" % (load_before[0], a.threads), file=sys.stderr, flush=True)
    kiln = Kiln(a.kiln, a.threads)
    torch = Torch(a.threads)
    flops = lenet_flops()
    peak, peak_how = peak_gflops_per_core()
    print("kiln %s | PyTorch %s on %d thread(s) | %d CPUs%s" % (
        os.path.relpath(a.kiln), torch.version, torch.threads, os.cpu_count(),
        " | --quick" if a.quick else ""), flush=True)

    # JIT compile time first, so the cold run does not follow a warm cache in memory.
    cold = kiln.bench("train", 4, 10, cold=True)
    warm_runs = [kiln.bench("train", 4, 10) for _ in range(2)]
    compile_rows = {"cold": cold, "warm_runs": warm_runs}

    rows = []
    for mode, batch, target in THROUGHPUT_ROWS:
        steps = steps_for(mode, batch, train_images if mode == "train" else predict_images)
        ks = [kiln.bench(mode, batch, steps) for _ in range(a.repeat)]
        ts = [torch.bench(mode, batch, steps) for _ in range(a.repeat)]
        k = max(ks, key=lambda r: r["images_per_s"])
        t = max(ts, key=lambda r: r["images_per_s"])
        kthreads = k.get("threads", a.kiln_threads)
        per_image = flops["train_step_per_image" if mode == "train" else "forward_per_image"]
        gflops = per_image * k["images_per_s"] / 1e9
        rows.append({
            "mode": mode, "batch": batch, "steps": steps, "kiln": k, "torch": t,
            "kiln_samples": [r["images_per_s"] for r in ks], "torch_samples": [r["images_per_s"] for r in ts],
            "ratio_kiln_over_torch": k["images_per_s"] / t["images_per_s"], "target": target,
            "kiln_gflops": gflops, "kiln_threads": kthreads,
            "kiln_fraction_of_peak": gflops / (peak * kthreads),
            "torch_gflops": per_image * t["images_per_s"] / 1e9,
        })
        print("  %-7s batch %4d: kiln %9.0f img/s  torch %9.0f img/s" % (
            mode, batch, k["images_per_s"], t["images_per_s"]), flush=True)

    rss = None
    if not a.skip_rss:
        print("  peak RSS: kiln train%s and pytorch_lenet.py --epochs 2 ..." % (
            " --max-steps %d" % rss_steps if rss_steps else ""), flush=True)
        kr = kiln.train(rss_steps)
        tr = torch_blitz(a.threads, rss_steps)
        rss = {"kiln": kr, "torch": tr, "max_steps_per_epoch": rss_steps or None,
               "ratio_kiln_over_torch": kr["peak_rss_mib"] / tr["peak_rss_mib"], "target": RSS_TARGET}

    # ---------------------------------------------------------------------------------------
    header = "%-26s %11s %11s %10s %8s %7s %9s" % ("", "kiln", "torch", "kiln/torch", "target", "", "kiln %pk")
    lines = [header, "-" * len(header)]
    for r in rows:
        unit = "train img/s" if r["mode"] == "train" else "infer img/s"
        lines.append("%-26s %11.0f %11.0f %9.2fx %8s %7s %8.1f%%" % (
            "%s  batch %d" % (unit, r["batch"]), r["kiln"]["images_per_s"], r["torch"]["images_per_s"],
            r["ratio_kiln_over_torch"], ">=%gx" % r["target"] if r["target"] else "-",
            status(r["ratio_kiln_over_torch"], r["target"]), 100 * r["kiln_fraction_of_peak"]))
    if rss:
        lines.append("%-26s %11.0f %11.0f %9.2fx %8s %7s %9s" % (
            "peak RSS MiB (train%s)" % (", quick" if rss_steps else ""), rss["kiln"]["peak_rss_mib"],
            rss["torch"]["peak_rss_mib"], rss["ratio_kiln_over_torch"], "<=0.25x",
            status(rss["ratio_kiln_over_torch"], RSS_TARGET, lower_is_better=True), ""))
    warm = warm_runs[-1]
    for label, rec, target in (("compile s, cold", cold, COMPILE_COLD_TARGET),
                               ("compile s, cached", warm, COMPILE_WARM_TARGET)):
        lines.append("%-26s %11.3f %11s %10s %8s %7s %9s" % (
            label, rec["compile_s"], "-", "-", "<=%gs" % target,
            status(rec["compile_s"], target, lower_is_better=True), ""))
    print()
    print("\n".join(lines))
    print()
    print("kiln %%pk: LeNet FLOPs per image (forward %.3f MFLOP, train step %.3f MFLOP, from the layer "
          "shapes) x kiln img/s / (%.1f GFLOP/s per core, %s, x %d kiln thread(s))."
          % (flops["forward_per_image"] / 1e6, flops["train_step_per_image"] / 1e6, peak, peak_how,
             rows[0]["kiln_threads"]))
    if rss_steps:
        print("--quick: the peak-RSS row caps kiln train and pytorch_lenet.py at %d steps per epoch "
              "(2 epochs); a full run trains 15000 per epoch." % rss_steps)
    print("load average: %.2f before, %.2f after (1 min)" % (load_before[0], os.getloadavg()[0]))
    print("compile: LeNet train step at batch 4; cold = kiln bench --cold, cached = second of two "
          "runs with the on-disk cache.")

    elapsed = time.perf_counter() - t0
    write_json(a.out, {
        "benchmark": "all", "quick": a.quick, "threads": a.threads, "repeat": a.repeat,
        "elapsed_s": elapsed,
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version(),
                 "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "kiln_binary": a.kiln, "torch_version": torch.version, "torch_threads": torch.threads,
        "peak_gflops_per_core": peak, "peak_gflops_how": peak_how,
        "lenet_flops": flops,
        "throughput": rows,
        "peak_rss": rss,
        "compile": {**compile_rows, "cold_s": cold["compile_s"], "cached_s": warm["compile_s"],
                    "targets_s": {"cold": COMPILE_COLD_TARGET, "cached": COMPILE_WARM_TARGET}},
        "table": lines,
    })
    print("wrote %s (%.0f s)" % (os.path.relpath(a.out), elapsed))


if __name__ == "__main__":
    main()
