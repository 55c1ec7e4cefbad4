#!/usr/bin/env python3
"""Quality benchmark: dropnet's default pipeline end to end, scored through the exported .mlmodel.

Makes the data set if needed (examples/make-quality.sh: 10 classes of hand-held movies in
examples/generated/quality/drop, 240 held-out 480x480 test photos in .../quality/test), builds
the release dropnet, then times `dropnet extract`, `dropnet train` (default settings, plus any
arguments after `--`) and `dropnet export`. Each test photo is then classified as an iPhone app
would: the whole square photo (the centred square of a non-square one) resized to the model's
224x224 input, as iOS Vision does with imageCropAndScaleOption .centerCrop, and run through the
exported .mlmodel by an independent NumPy CoreML interpreter
(Tests/DropnetExportTests/mlmodel_interpreter.py). Beside it: the same file fed only the central
87.5% of the photo (area-averaged: TF-slim's evaluation crop, to tell whether a tighter view
would help), and `dropnet predict` on the checkpoint (the model's own framing). Prints
per-class and overall accuracy, the top confusions and the time of each step with the load
average; --json writes every figure and every photo's predictions. --seeds N trains N times
(seeds 0..N-1) and pools the counts; --compare A.json B.json compares two results photo by photo.

    python=$(VENV=$PWD/examples/generated/venv-quality bash examples/python-env.sh examples/bench/quality-requirements.txt)
    $python examples/bench/quality.py                                  # default settings
    $python examples/bench/quality.py --json q.json -- --fine-tune bn --epochs 15   # a variant
    $python examples/bench/quality.py --reuse-extraction --seeds 3 --json head.json
    $python examples/bench/quality.py --compare a.json b.json        # two results, same --seeds
"""
import argparse
import json
import logging
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "DropnetExportTests"))

# coremltools warns that CoreML itself cannot run on Linux; only its protobuf classes are used.
logging.getLogger("coremltools").setLevel(logging.ERROR)

try:
    import numpy as np
    from PIL import Image

    import mlmodel_interpreter
except ImportError as missing:
    sys.exit(
        f"quality: {missing}; run with the benchmark's virtual environment:\n"
        "  python=$(VENV=$PWD/examples/generated/venv-quality bash examples/python-env.sh \\\n"
        "      examples/bench/quality-requirements.txt)\n"
        "  $python examples/bench/quality.py"
    )

DATA = ROOT / "examples" / "generated" / "quality"
DEFAULT_WORK = ROOT / "examples" / "generated" / "quality-run"
MODEL_NAME = "Quality"
RESIZE_FILTERS = {"bilinear": Image.BILINEAR, "box": Image.BOX, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}
# TF-slim's evaluation crop: the central 87.5% of the shorter side.
CENTRAL_FRACTION = 0.875
BATCH = 4


class BenchError(Exception):
    """A step failed; the message says which and what to do."""


# ----------------------------------------------------------------------------------------------
# Steps: each is timed (wall and CPU seconds) with the load average when it started.


class Steps:
    def __init__(self):
        self.records = []

    def run(self, name, function):
        load = os.getloadavg()[0]
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = time.process_time()
        started = time.monotonic()
        result = function()
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
        cpu += time.process_time() - own
        self.records.append(
            {
                "step": name,
                "seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "load_average_1min": round(load, 2),
            }
        )
        return result


def run_command(command, log):
    """Run a command with its output in `log`; raise with the log's tail when it fails."""
    with open(log, "w") as handle:
        result = subprocess.run(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = "".join(Path(log).read_text(errors="replace").splitlines(keepends=True)[-25:])
        shown = " ".join(str(part) for part in command)
        raise BenchError(f"`{shown}` failed (exit {result.returncode}); its output ends:\n{tail}(whole log: {log})")
    return Path(log).read_text(errors="replace")


def weights_path():
    """Where dropnet reads the ImageNet weights: $DROPNET_WEIGHTS, else the XDG data folder."""
    if os.environ.get("DROPNET_WEIGHTS"):
        return Path(os.environ["DROPNET_WEIGHTS"])
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "dropnet" / "mobilenet_v1_imagenet.safetensors"


# ----------------------------------------------------------------------------------------------
# Classifying the test photos.


def test_photos():
    """(path, label) for every test photo, sorted by label and name."""
    photos = sorted((path, path.parent.name) for path in (DATA / "test").glob("*/*.jpg"))
    if not photos:
        raise BenchError(f"no test photos in {DATA / 'test'}; run `bash examples/make-quality.sh`")
    return photos


def phone_input(path, size, resize):
    """What the app feeds the model: the centred square of the photo, resized to the input size."""
    image = Image.open(path).convert("RGB")
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return np.asarray(image.crop((left, top, left + side, top + side)).resize(size, RESIZE_FILTERS[resize]))


def central_input(path, size):
    """The central 87.5% square, area-averaged to the input size."""
    image = Image.open(path).convert("RGB")
    width, height = image.size
    shorter = min(width, height)
    side = min(shorter, max(1, round(CENTRAL_FRACTION * shorter)))
    left, top = (width - side) // 2, (height - side) // 2
    return np.asarray(image.crop((left, top, left + side, top + side)).resize(size, Image.BOX))


def interpret(network, photos, make_input):
    """Top-1 label and its probability for every photo, through the NumPy CoreML interpreter."""
    labels = network.labels
    predictions = []
    for first in range(0, len(photos), BATCH):
        batch = np.stack([make_input(path) for path, _ in photos[first:first + BATCH]])
        probabilities = mlmodel_interpreter.probabilities(network, batch)
        for row in probabilities:
            best = int(row.argmax())
            predictions.append((labels[best], float(row[best])))
    return predictions


def dropnet_predict(dropnet, checkpoint, photos, log):
    output = run_command(
        [dropnet, "predict", "--model", checkpoint, "--top", "1", "--json", *[str(path) for path, _ in photos]], log
    )
    # The JSON array follows any log lines.
    results = json.loads(output[output.index("["):])
    by_path = {entry["image"]: entry["top"][0] for entry in results}
    missing = [str(path) for path, _ in photos if str(path) not in by_path]
    if missing:
        raise BenchError(f"dropnet predict gave no answer for {len(missing)} photos, e.g. {missing[0]}; see {log}")
    return [(by_path[str(path)]["label"], by_path[str(path)]["probability"]) for path, _ in photos]


def score(photos, predictions, classes):
    """Per-class and overall correct/total, and the confusions (true, predicted) by count."""
    per_class = {label: {"correct": 0, "total": 0} for label in classes}
    confusions = Counter()
    for (_, truth), (predicted, _) in zip(photos, predictions):
        per_class[truth]["total"] += 1
        if predicted == truth:
            per_class[truth]["correct"] += 1
        else:
            confusions[(truth, predicted)] += 1
    correct = sum(c["correct"] for c in per_class.values())
    total = sum(c["total"] for c in per_class.values())
    recalls = [c["correct"] / c["total"] for c in per_class.values() if c["total"]]
    return {
        "correct": correct,
        "total": total,
        "accuracy": correct / total,
        "mean_class_accuracy": sum(recalls) / len(recalls),
        "per_class": per_class,
        "confusions": [{"true": t, "predicted": p, "count": n} for (t, p), n in confusions.most_common()],
    }


# ----------------------------------------------------------------------------------------------


def percent(correct, total):
    return f"{correct:>3}/{total:<3} {100 * correct / total:5.1f}%"


def print_report(result):
    columns = result["columns"]
    titles = {
        "exported": "exported .mlmodel",
        "exported_dropnet_crop": "same, central 87.5%",
        "predict": "dropnet predict",
    }
    width = max(len(label) for label in result["classes"] + ["mean of classes"]) + 2
    runs = result["runs"]
    seeds = ""
    if len(runs) > 1:
        seeds = f"; {len(runs)} trainings (--seed {', '.join(str(r['seed']) for r in runs)}), counts pooled"
    print(
        f"\nquality: {len(result['classes'])} classes, {result['photos']} test photos never in a movie; "
        f"train {' '.join(result['train_arguments']) or '(default settings)'}{seeds}"
    )
    print(
        f"exported .mlmodel: the whole photo resized to 224x224 (PIL {result['resize']}), as an iPhone app with "
        "Vision's .centerCrop; same, central 87.5%: PIL box; dropnet predict: the checkpoint"
    )
    print("class".ljust(width) + "".join(titles[c].rjust(22) for c in columns))
    for label in result["classes"]:
        cells = [percent(**result[c]["per_class"][label]) for c in columns]
        print(label.ljust(width) + "".join(cell.rjust(22) for cell in cells))
    print("overall".ljust(width) + "".join(percent(result[c]["correct"], result[c]["total"]).rjust(22)
                                           for c in columns))
    print(
        "mean of classes".ljust(width)
        + "".join(f"{100 * result[c]['mean_class_accuracy']:5.1f}%".rjust(22) for c in columns)
    )
    if len(runs) > 1:
        for column in columns:
            accuracies = [100 * run[column] for run in runs]
            print(f"{titles[column]} per training: " + ", ".join(f"{a:.1f}%" for a in accuracies)
                  + f" (spread {max(accuracies) - min(accuracies):.1f} points)")
    agree = result["agreement_exported_vs_predict"]
    total = result["exported"]["total"]
    print(f"exported .mlmodel and dropnet predict give the same class for {agree}/{total} answers")
    confusions = result["exported"]["confusions"][:8]
    if confusions:
        print(
            "top confusions (exported .mlmodel, true -> predicted): "
            + ", ".join(f"{c['true']} -> {c['predicted']} {c['count']}" for c in confusions)
        )
    for run in runs:
        training = run["training"]
        if training:
            print(
                (f"training (seed {run['seed']}): " if len(runs) > 1 else "training: ")
                + ", ".join(f"{key} {value}" for key, value in training.items() if not isinstance(value, (dict, list)))
            )
    steps = ", ".join(
        f"{s['step']} {s['seconds']:.1f} s (cpu {s['cpu_seconds']:.1f} s, load {s['load_average_1min']:.1f})"
        for s in result["steps"]
    )
    print(f"steps: {steps}")
    print(f"pipeline (extract + train + export): {result['pipeline_seconds']:.1f} s on {os.cpu_count()} cores"
          + (" (first training)" if len(runs) > 1 else ""))


def training_summary(report_path):
    """The run's report.json in brief: mode, epochs, best epoch, validation, frames, timings."""
    try:
        report = json.loads(Path(report_path).read_text())
    except (OSError, ValueError):
        return {}
    settings, timings, classes = report.get("settings", {}), report.get("timings", {}), report.get("classes", [])
    summary = {
        "fine_tune": settings.get("fineTune"),
        "epochs": settings.get("epochs"),
        "best_epoch": report.get("bestEpoch"),
        "validation_accuracy": round(report.get("validationAccuracy", float("nan")), 3),
        "validation_loss": round(report.get("validationLoss", float("nan")), 3),
        "training_frames": sum(c.get("trainingFrames", 0) for c in classes),
        "validation_frames": sum(c.get("validationFrames", 0) for c in classes),
        "features_seconds": round(timings["features"], 1) if "features" in timings else None,
        "training_seconds": round(timings["training"], 1) if "training" in timings else None,
    }
    summary = {key: value for key, value in summary.items() if value is not None}
    summary["frames_per_class"] = {
        c["label"]: {"training": c.get("trainingFrames"), "validation": c.get("validationFrames")} for c in classes
    }
    return summary


def compare(base_path, other_path, column):
    """Paired comparison of two --json results on the same photos: who got which photos right.

    The two-sided exact McNemar test: under "no difference", each photo that only one run gets
    right is equally likely to be either run's; p is the chance of a split at least this uneven.
    With --seeds the pairs are (training, photo): the same photo's pairs are not independent, so
    p is then only a rough guide.
    """
    runs = []
    for path in (base_path, other_path):
        result = json.loads(Path(path).read_text())
        if "per_photo" not in result:
            raise BenchError(f"{path} has no per-photo predictions; write it with quality.py --json")
        runs.append({(p.get("seed"), p["photo"]): p[column]["label"] == p["label"] for p in result["per_photo"]})
    base, other = runs
    if set(base) != set(other):
        raise BenchError(
            f"{base_path} and {other_path} score different photos or seeds; compare runs on the same data set "
            "with the same --seeds")
    only_base = sum(base[p] and not other[p] for p in base)
    only_other = sum(other[p] and not base[p] for p in base)
    discordant = only_base + only_other
    tail = sum(math.comb(discordant, k) for k in range(min(only_base, only_other) + 1)) / 2 ** discordant
    p_value = min(1.0, 2 * tail)
    total = len(base)
    print(f"{column}: {base_path} {sum(base.values())}/{total} ({100 * sum(base.values()) / total:.1f}%), "
          f"{other_path} {sum(other.values())}/{total} ({100 * sum(other.values()) / total:.1f}%)")
    print(f"right in the first only: {only_base}, in the second only: {only_other}; "
          f"exact McNemar p = {p_value:.3f}" + (" (a real difference at the 5% level)" if p_value < 0.05 else ""))
    return 0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Arguments after `--` go to `dropnet train` (e.g. -- --fine-tune bn --epochs 15).",
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"run folder (default {DEFAULT_WORK})")
    parser.add_argument("--json", type=Path, help="also write the figures and every photo's predictions here")
    parser.add_argument("--dropnet", help="use this dropnet binary instead of building the release product")
    parser.add_argument(
        "--reuse-extraction", action="store_true",
        help="keep WORK/state from an earlier run (extraction is then incremental: nothing to decode)",
    )
    parser.add_argument(
        "--resize", choices=sorted(RESIZE_FILTERS), default="bilinear",
        help="how the app's input is resized to 224x224 (PIL filter; default bilinear)",
    )
    parser.add_argument(
        "--seeds", type=int, default=1,
        help="train N times (--seed 0..N-1) on the same frames and pool the counts "
        "(default 1: dropnet's default seed)",
    )
    parser.add_argument(
        "--compare", nargs=2, metavar=("A.json", "B.json"),
        help="only compare two --json results photo by photo (exact McNemar test) and exit",
    )
    parser.add_argument(
        "--column", choices=["exported", "exported_dropnet_crop", "predict"], default="exported",
        help="which classification --compare compares (default exported)",
    )
    arguments = sys.argv[1:]
    train_arguments = []
    if "--" in arguments:
        split = arguments.index("--")
        arguments, train_arguments = arguments[:split], arguments[split + 1:]
    options = parser.parse_args(arguments)
    if options.compare:
        return compare(*options.compare, options.column)
    if options.seeds < 1:
        raise BenchError("--seeds must be at least 1")
    if options.seeds > 1 and "--seed" in train_arguments:
        raise BenchError("give either --seeds N (seeds 0..N-1) or `-- --seed S`, not both")

    steps = Steps()
    work = options.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(exist_ok=True)

    steps.run("data", lambda: run_command(["bash", "examples/make-quality.sh"], logs / "make-quality.log"))
    if options.dropnet:
        dropnet = str(Path(options.dropnet).resolve())
    else:
        build = ["swift", "build", "-c", "release", "--product", "dropnet"]
        steps.run("build", lambda: run_command(build, logs / "build.log"))
        bin_path = run_command(["swift", "build", "-c", "release", "--show-bin-path"], logs / "bin-path.log")
        dropnet = str(Path(bin_path.strip().splitlines()[-1]) / "dropnet")
    weights = weights_path()
    if not weights.exists():
        def import_weights():
            run_command(["bash", "examples/fetch-weights.sh"], logs / "fetch-weights.log")
            run_command(
                [dropnet, "weights", "import", "examples/weights/mobilenet_v1_imagenet.pb", "--out", str(weights)],
                logs / "weights-import.log",
            )
        steps.run("weights", import_weights)

    state = work / "state"
    for folder in work.glob("run*"):
        shutil.rmtree(folder)
    for folder in work.glob("export*"):
        shutil.rmtree(folder)
    if not options.reuse_extraction:
        shutil.rmtree(state, ignore_errors=True)
    photos = test_photos()
    classes = sorted({label for _, label in photos})

    pipeline_started = len(steps.records)
    steps.run("extract", lambda: run_command(
        [dropnet, "extract", "--drop", str(DATA / "drop"), "--state", str(state)], logs / "extract.log"))
    runs, answers, pipeline_seconds = [], [], None
    for seed in range(options.seeds):
        suffix = f"-seed{seed}" if options.seeds > 1 else ""
        tag = f" (seed {seed})" if options.seeds > 1 else ""
        seed_arguments = ["--seed", str(seed)] if options.seeds > 1 else []
        run, export = work / f"run{suffix}", work / f"export{suffix}"
        steps.run("train" + tag, lambda: run_command(
            [dropnet, "train", "--state", str(state), "--run", str(run), *train_arguments, *seed_arguments],
            logs / f"train{suffix}.log"))
        checkpoint = str(run / "best.safetensors")
        steps.run("export" + tag, lambda: run_command(
            [dropnet, "export", "--checkpoint", checkpoint, "--out", str(export), "--name", MODEL_NAME],
            logs / f"export{suffix}.log"))
        if pipeline_seconds is None:
            pipeline_seconds = sum(s["seconds"] for s in steps.records[pipeline_started:])

        network = mlmodel_interpreter.load(export / f"{MODEL_NAME}.mlmodel")
        missing = sorted(set(classes) - set(network.labels))
        if missing:
            print(f"quality: the model has no class {', '.join(missing)}: their photos count as wrong",
                  file=sys.stderr)
        size = network.input_size
        exported = steps.run("interpret" + tag, lambda: interpret(
            network, photos, lambda path: phone_input(path, size, options.resize)))
        cropped = steps.run("interpret, central 87.5%" + tag, lambda: interpret(
            network, photos, lambda path: central_input(path, size)))
        predicted = steps.run("predict" + tag, lambda: dropnet_predict(
            dropnet, checkpoint, photos, logs / f"predict{suffix}.log"))
        runs.append({
            "seed": seed if options.seeds > 1 else None,
            "model": str(export / f"{MODEL_NAME}.mlmodel"),
            "training": training_summary(run / "report.json"),
            "exported": score(photos, exported, classes)["accuracy"],
            "exported_dropnet_crop": score(photos, cropped, classes)["accuracy"],
            "predict": score(photos, predicted, classes)["accuracy"],
        })
        answers += [
            (runs[-1]["seed"], path, label, e, c, p)
            for (path, label), e, c, p in zip(photos, exported, cropped, predicted)
        ]

    pooled = [(path, label) for _, path, label, _, _, _ in answers]
    result = {
        "classes": classes,
        "photos": len(photos),
        "train_arguments": train_arguments,
        "resize": options.resize,
        "columns": ["exported", "exported_dropnet_crop", "predict"],
        "exported": score(pooled, [a[3] for a in answers], classes),
        "exported_dropnet_crop": score(pooled, [a[4] for a in answers], classes),
        "predict": score(pooled, [a[5] for a in answers], classes),
        "agreement_exported_vs_predict": sum(a[3][0] == a[5][0] for a in answers),
        "runs": runs,
        "steps": steps.records,
        "pipeline_seconds": round(pipeline_seconds, 2),
        "cores": os.cpu_count(),
    }
    print_report(result)
    if options.json:
        result["per_photo"] = [
            {
                "seed": seed,
                "photo": str(path.relative_to(DATA)),
                "label": label,
                "exported": {"label": e[0], "probability": round(e[1], 4)},
                "exported_dropnet_crop": {"label": c[0], "probability": round(c[1], 4)},
                "predict": {"label": p[0], "probability": round(p[1], 4)},
            }
            for seed, path, label, e, c, p in answers
        ]
        options.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"figures written to {options.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, mlmodel_interpreter.UnsupportedModel) as error:
        print(f"quality: {error}", file=sys.stderr)
        sys.exit(1)
