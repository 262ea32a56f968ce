#!/usr/bin/python3
"""Issue 5's size and speed figures for AOT model binaries, against the JIT.

usage: bench/bench_aot.py [--kiln PATH] [--libdir DIR] [--repeat 5] [--images 20000] [--out FILE]

Compiles LeNet with `kiln compile --aot` (predict and eval_step at batch 1 and 1000, and a --train
bundle at batch 4), builds bench/aot_bench.c and examples/aot/classify.c against them with cc, and
measures:

- sizes: each lenet.o, libkiln_runtime.so, the stripped classify example and the stripped
  aot_bench (issue 5's target: the stripped example binary, without weights, <= 1 MiB);
- start-up to the first prediction, as the wall time of a whole process that starts, loads LeNet
  and predicts one batch of 1, then exits: the AOT binary (`aot_bench W 0`) against the JIT path
  (`kiln bench --mode predict --batch-size 1 --steps 1`: build LeNet, compile or take it from the
  program cache, predict), the JIT both cold (an empty program cache each run) and warm;
- predict images/s at batch 1 and 1000 on a fixed batch, AOT (`aot_bench W STEPS`) against the JIT
  (`kiln bench --mode predict`), each with a warm-up of steps/10+1 (at most 50) calls.

Each timing is repeated --repeat times; the table shows the median and the best (the least time,
the most images/s). Prints a table
and writes every figure, with the commands, to --out (default bench/results/aot.json). Not a test:
the figures depend on the machine and its load."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(message):
    sys.exit("bench_aot.py: " + message)


def run(command, env=None, cwd=None):
    """Runs `command`; returns (wall seconds, stdout)."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        fail("%s failed (%d): %s" % (" ".join(command), done.returncode, done.stderr.strip()))
    return seconds, done.stdout


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def timings(samples):
    """Seconds: the best is the least."""
    return {"median": statistics.median(samples), "best": min(samples), "samples": samples}


def rates(samples):
    """Images/s: the best is the most."""
    return {"median": statistics.median(samples), "best": max(samples), "samples": samples}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiln", default=os.path.join(ROOT, "build", "tools", "kiln"))
    parser.add_argument("--libdir", help="folder of libkiln_runtime.so (default: ../runtime "
                        "next to the kiln binary's folder)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--images", type=int, default=20000,
                        help="images per throughput measurement")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "aot.json"))
    args = parser.parse_args()
    kiln = os.path.abspath(args.kiln)
    libdir = os.path.abspath(args.libdir or os.path.join(os.path.dirname(kiln), "..", "runtime"))
    runtime = os.path.join(libdir, "libkiln_runtime.so")
    for path in (kiln, runtime):
        if not os.path.exists(path):
            fail("%s does not exist; build kiln first or pass --kiln / --libdir" % path)
    cc = os.environ.get("CC", "cc")
    load = os.getloadavg()[0]
    if load > 0.5:
        print("warning: load average %.2f; timings will be noisy" % load, file=sys.stderr)

    work = tempfile.mkdtemp(prefix="kiln_bench_aot_")
    try:
        env = dict(os.environ, KILN_CACHE_DIR=os.path.join(work, "cache"))
        bundles = {"predict_b1": ["--batch-size", "1"], "predict_b1000": ["--batch-size", "1000"],
                   "train_b4": ["--train", "--batch-size", "4"]}
        for name, flags in bundles.items():
            run([kiln, "compile", "--aot", *flags, "-o", os.path.join(work, name)], env=env)
        binaries = {}
        for name in ("predict_b1", "predict_b1000"):
            folder = os.path.join(work, name)
            for program, source in (("aot_bench", "bench/aot_bench.c"),
                                    ("classify", "examples/aot/classify.c")):
                output = os.path.join(folder, program)
                run([cc, "-std=c11", "-O2", "-I" + folder, "-I" + os.path.join(ROOT, "runtime", "include"),
                     os.path.join(ROOT, source), os.path.join(folder, "lenet.o"), "-L" + libdir,
                     "-lkiln_runtime", "-Wl,-rpath," + libdir, "-lm", "-o", output])
                run(["strip", "-o", output + ".stripped", output])
                binaries[(name, program)] = output

        size = os.path.getsize
        sizes = {"lenet.o predict+eval_step batch 1": size(os.path.join(work, "predict_b1", "lenet.o")),
                 "lenet.o predict+eval_step batch 1000": size(os.path.join(work, "predict_b1000", "lenet.o")),
                 "lenet.o with train_step batch 4": size(os.path.join(work, "train_b4", "lenet.o")),
                 "lenet.safetensors (weights)": size(os.path.join(work, "predict_b1", "lenet.safetensors")),
                 "libkiln_runtime.so": size(runtime),
                 "classify (example), stripped, batch 1000":
                     size(binaries[("predict_b1000", "classify")] + ".stripped"),
                 "aot_bench, stripped, batch 1": size(binaries[("predict_b1", "aot_bench")] + ".stripped")}
        stripped_runtime = os.path.join(work, "libkiln_runtime.stripped.so")
        run(["strip", "-o", stripped_runtime, runtime])
        sizes["libkiln_runtime.so, stripped"] = size(stripped_runtime)

        weights1 = os.path.join(work, "predict_b1", "lenet.safetensors")
        aot_start = [binaries[("predict_b1", "aot_bench")], weights1, "0"]
        jit_start = [kiln, "bench", "--mode", "predict", "--batch-size", "1", "--steps", "1"]
        startup = {"aot": [], "jit_cold": [], "jit_warm": []}
        warm_env = dict(os.environ, KILN_CACHE_DIR=os.path.join(work, "warm_cache"))
        run(jit_start, env=warm_env)  # fills the warm cache
        for i in range(args.repeat):
            startup["aot"].append(run(aot_start)[0])
            cold_env = dict(os.environ, KILN_CACHE_DIR=os.path.join(work, "cold_cache_%d" % i))
            startup["jit_cold"].append(run(jit_start, env=cold_env)[0])
            startup["jit_warm"].append(run(jit_start, env=warm_env)[0])

        throughput = {}
        for batch in (1, 1000):
            steps = max(1, args.images // batch)
            folder = os.path.join(work, "predict_b%d" % batch)
            aot = [binaries[("predict_b%d" % batch, "aot_bench")],
                   os.path.join(folder, "lenet.safetensors"), str(steps)]
            jit = [kiln, "bench", "--mode", "predict", "--batch-size", str(batch), "--steps", str(steps)]
            samples = {"aot": [], "jit": []}
            for _ in range(args.repeat):
                samples["aot"].append(last_json(run(aot)[1])["images_per_s"])
                samples["jit"].append(last_json(run(jit, env=warm_env)[1])["images_per_s"])
            throughput[batch] = {"steps": steps, "aot": rates(samples["aot"]),
                                 "jit": rates(samples["jit"]),
                                 "commands": {"aot": " ".join(aot), "jit": " ".join(jit)}}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("%-44s %12s" % ("size", "bytes"))
    for name, value in sizes.items():
        print("%-44s %12d  (%.1f KiB)" % (name, value, value / 1024))
    target = sizes["classify (example), stripped, batch 1000"] <= 1 << 20
    print("stripped example <= 1 MiB: %s\n" % ("met" if target else "MISSED"))
    print("%-44s %10s %10s" % ("start-up to first logits (whole process)", "median s", "best s"))
    for name, label in (("aot", "AOT (aot_bench, batch 1)"), ("jit_cold", "JIT kiln bench, cold cache"),
                        ("jit_warm", "JIT kiln bench, warm cache")):
        t = timings(startup[name])
        print("%-44s %10.3f %10.3f" % (label, t["median"], t["best"]))
    print("\n%-10s %22s %22s %8s" % ("predict", "AOT img/s median/best", "JIT img/s median/best",
                                       "AOT/JIT"))
    for batch, row in throughput.items():
        aot, jit = row["aot"], row["jit"]
        print("batch %-4d %11.0f %10.0f %11.0f %10.0f %8.2f" % (
            batch, aot["median"], aot["best"], jit["median"], jit["best"],
            aot["median"] / jit["median"]))
    print("(%d runs each; load average at start %.2f)" % (args.repeat, load))

    result = {"sizes_bytes": sizes, "example_under_1mib": target,
              "startup_s": {k: timings(v) for k, v in startup.items()},
              "startup_commands": {"aot": "aot_bench lenet.safetensors 0 (batch 1 bundle)",
                                   "jit": " ".join(jit_start)},
              "predict_images_per_s": throughput, "repeat": args.repeat, "load_average": load,
              "machine": os.uname().nodename, "cpu_count": os.cpu_count()}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as out:
        json.dump(result, out, indent=1)
    print("wrote %s" % args.out)


if __name__ == "__main__":
    main()
