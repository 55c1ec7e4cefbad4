#!/usr/bin/env python3
"""dropnet and its Keras/TF peer, interleaved, with the machine's contention beside every figure.

Speed figures on a small shared machine are only comparable when both sides ran in the same
minutes on otherwise idle cores: a second busy process halves any figure on 2 cores. This runs
dropnet's own benchmark and the Keras peer (examples/bench/keras_peer.py, the same recipe on the
same weights) in turns, A B A B ..., for each kind of work:

- `bn`: one training step of the seed's recipe with every batch norm of the base trained
  (`dropnet bench train --modes bn` vs Keras `train_on_batch`);
- `infer`: MobileNet v1 inference (`dropnet bench infer` vs Keras `predict_on_batch`).

Before every run it waits (up to --wait seconds) until the other processes use less than
--quiet of the machine, then measures the run's own CPU time against the machine's, so each
figure carries the share of the machine the rest of the system used meanwhile (`others`) and
the 1-minute load average at its start. A run whose `others` exceeds --quiet is contended: the
table marks it and the script exits with status 3 without stating a ratio, since a ratio
taken on shared cores says nothing.

Usage, from the package root (makes a TensorFlow virtual environment on first use, ~600 MB):
    python3 examples/bench/side_by_side.py [--work bn,infer] [--rounds 3] [--batch 32]
        [--threads 2] [--precision float32] [--json FILE]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DROPNET = ROOT / ".build" / "release" / "dropnet"
PEER = ROOT / "examples" / "bench" / "keras_peer.py"
REQUIREMENTS = ROOT / "examples" / "bench" / "keras-requirements.txt"
WEIGHTS = ROOT / "examples" / "weights" / "mobilenet_v1_imagenet.pb"


class BenchError(Exception):
    """A step that cannot run, with what to do about it."""


def busy_and_total_jiffies():
    """The machine's busy and total CPU time so far, in clock ticks, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


def others_share(seconds):
    """The share of the machine (0-1) busy over `seconds` while this script itself sleeps."""
    busy_before, total_before = busy_and_total_jiffies()
    time.sleep(seconds)
    busy_after, total_after = busy_and_total_jiffies()
    return (busy_after - busy_before) / max(1, total_after - total_before)


def wait_for_quiet(limit, wait_seconds):
    """Waits until the rest of the machine uses less than `limit`; returns the last share seen."""
    deadline = time.monotonic() + wait_seconds
    while True:
        share = others_share(2.0)
        if share < limit or time.monotonic() >= deadline:
            return share
        print(f"  waiting for a quiet machine: others use {share:.0%}", file=sys.stderr)


def run_measured(command):
    """Runs `command`; returns its stdout, wall seconds and the others' share of the machine.

    The others' share is the machine's busy CPU time minus the command's own (its children
    included), over the machine's capacity for the run's wall time."""
    ticks = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    busy_before, _ = busy_and_total_jiffies()
    own_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    own_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_after, _ = busy_and_total_jiffies()
    if result.returncode != 0:
        raise BenchError(
            f"{' '.join(map(str, command))} failed (status {result.returncode}):\n"
            f"{result.stderr[-2000:]}")
    own = (own_after.ru_utime - own_before.ru_utime) + (own_after.ru_stime - own_before.ru_stime)
    machine_busy = (busy_after - busy_before) / ticks
    others = max(0.0, machine_busy - own) / (wall * cores)
    return result.stdout, wall, others


def dropnet_command(work, arguments):
    common = ["--batch", str(arguments.batch), "--threads", str(arguments.threads),
              "--precision", arguments.precision, "--json"]
    if work == "bn":
        return [str(DROPNET), "bench", "train", "--modes", "bn", "--steps", str(arguments.steps),
                "--run-modes", "none", *common]
    return [str(DROPNET), "bench", "infer", *common]


def dropnet_figure(work, output):
    measurements = json.loads(output)["measurements"]
    if work == "bn":
        measurements = [m for m in measurements if m["mode"] == "bn"]
    return measurements[0]["imagesPerSecond"]


def peer_command(python, work, arguments):
    command = [python, str(PEER), "--batch", str(arguments.batch),
               "--threads", str(arguments.threads), "--json"]
    if work == "bn":
        return [*command, "--train", "bn", "--batches", str(arguments.steps + 2)]
    return [*command, "--batches", "10"]


def peer_figure(_work, output):
    return json.loads(output.strip().splitlines()[-1])["imagesPerSecond"]


def prepare(arguments):
    """The release dropnet, the weights and the peer's Python; returns that Python."""
    if not WEIGHTS.exists():
        raise BenchError(f"{WEIGHTS} is missing: run bash examples/fetch-weights.sh first")
    if not arguments.no_build:
        print("building the release dropnet ...", file=sys.stderr)
        build = subprocess.run(["swift", "build", "-c", "release", "--product", "dropnet"],
                               cwd=ROOT, capture_output=True, text=True, check=False)
        if build.returncode != 0:
            raise BenchError(f"swift build -c release failed:\n{build.stderr[-2000:]}")
    environment = dict(os.environ)
    environment.setdefault("VENV", str(ROOT / "examples" / "generated" / "venv-keras"))
    made = subprocess.run(["bash", str(ROOT / "examples" / "python-env.sh"), str(REQUIREMENTS)],
                          env=environment, capture_output=True, text=True, check=False)
    if made.returncode != 0:
        raise BenchError(f"cannot make the TensorFlow environment:\n{made.stderr[-2000:]}")
    return made.stdout.strip()


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit status: 0 measured quiet, 3 some run was contended (no ratio), 1 error.")
    parser.add_argument("--work", default="bn,infer", help="bn, infer or both (default: both)")
    parser.add_argument("--rounds", type=int, default=3, help="A/B pairs per kind of work")
    parser.add_argument("--batch", type=int, default=32, help="images per batch (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="threads on both sides")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps per run")
    parser.add_argument("--precision", default="float32",
                        help="dropnet's precision: float32, bfloat16 or auto (Keras: float32)")
    parser.add_argument("--quiet", type=float, default=0.10,
                        help="largest share of the machine others may use (default 0.10)")
    parser.add_argument("--wait", type=float, default=120,
                        help="seconds to wait for a quiet machine before each run")
    parser.add_argument("--no-build", action="store_true", help="use the built release binary")
    parser.add_argument("--json", help="also write every run to this file")
    arguments = parser.parse_args()
    works = [work.strip() for work in arguments.work.split(",") if work.strip()]
    if not works or any(work not in ("bn", "infer") for work in works):
        parser.error("--work takes bn, infer or both, comma-separated")

    try:
        python = prepare(arguments)
        runs = []
        for work in works:
            for round_number in range(1, arguments.rounds + 1):
                for side in ("dropnet", "keras"):
                    before = wait_for_quiet(arguments.quiet, arguments.wait)
                    load = os.getloadavg()[0]
                    if side == "dropnet":
                        output, wall, others = run_measured(dropnet_command(work, arguments))
                        figure = dropnet_figure(work, output)
                    else:
                        output, wall, others = run_measured(peer_command(python, work, arguments))
                        figure = peer_figure(work, output)
                    run = {"work": work, "round": round_number, "side": side,
                           "imagesPerSecond": round(figure, 2), "wallSeconds": round(wall, 1),
                           "loadAverage": round(load, 2), "othersBefore": round(before, 3),
                           "others": round(others, 3),
                           "contended": others > arguments.quiet or before > arguments.quiet}
                    runs.append(run)
                    print(f"{work:5} round {round_number} {side:7} {figure:7.1f} images/s  "
                          f"(load {load:.2f}, others {others:.0%}"
                          f"{', CONTENDED' if run['contended'] else ''})", file=sys.stderr)
    except BenchError as error:
        print(f"side_by_side: {error}", file=sys.stderr)
        return 1

    print(f"\nbatch {arguments.batch}, {arguments.threads} threads, dropnet {arguments.precision}, "
          f"Keras float32; {os.cpu_count()} cores; 'others' is the share of the machine the rest "
          f"of the system used during the run")
    print(f"{'work':6} {'side':8} {'images/s per round':32} {'median':>8}  {'load':>10}  others")
    contended = any(run["contended"] for run in runs)
    summary = {}
    for work in works:
        for side in ("dropnet", "keras"):
            mine = [run for run in runs if run["work"] == work and run["side"] == side]
            figures = [run["imagesPerSecond"] for run in mine]
            summary[(work, side)] = statistics.median(figures)
            loads = [run["loadAverage"] for run in mine]
            print(f"{work:6} {side:8} {', '.join(f'{f:.1f}' for f in figures):32} "
                  f"{statistics.median(figures):8.1f}  {min(loads):.2f}-{max(loads):.2f}  "
                  f"{max(run['others'] for run in mine):.0%} at most")
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as handle:
            json.dump({"batch": arguments.batch, "threads": arguments.threads,
                       "precision": arguments.precision, "quiet": arguments.quiet,
                       "runs": runs}, handle, indent=1)
    if contended:
        print(f"\nsome runs shared the machine (others above {arguments.quiet:.0%}): no ratio is "
              f"stated; stop the other work and run again")
        return 3
    for work in works:
        ratio = summary[(work, "dropnet")] / summary[(work, "keras")]
        print(f"{work}: dropnet / Keras = {ratio:.2f}x (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
