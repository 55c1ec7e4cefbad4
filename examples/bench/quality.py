#!/usr/bin/env python3
"""Quality benchmark: dropnet's default pipeline end to end, scored through the exported .mlmodel.

Makes the data set if needed (examples/make-quality.sh: 10 classes of hand-held movies in
examples/generated/quality/drop, 240 held-out 480x480 test photos in .../quality/test), builds
the release dropnet, then times `dropnet extract`, `dropnet train` (default settings, plus any
arguments after `--`) and `dropnet export`. Each test photo is then classified as an iPhone app
would: the whole square photo (the centred square of a non-square one) resized to the model's
224x224 input, as iOS Vision does with imageCropAndScaleOption .centerCrop, and run through the
exported .mlmodel by an independent NumPy CoreML interpreter
(Tests/DropnetCoreMLTests/mlmodel_interpreter.py). Beside it: the same file fed dropnet's own
preprocessing (the central 87.5%, area-averaged), and `dropnet predict` on the checkpoint. Prints
per-class and overall accuracy, the top confusions and the time of each step with the load
average; --json writes every figure and every photo's predictions.

    python=$(VENV=examples/generated/venv-quality bash examples/python-env.sh examples/bench/quality-requirements.txt)
    $python examples/bench/quality.py                                  # default settings
    $python examples/bench/quality.py --json q.json -- --fine-tune bn --epochs 15   # a variant
"""
import argparse
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "DropnetCoreMLTests"))

# coremltools warns that CoreML itself cannot run on Linux; only its protobuf classes are used.
logging.getLogger("coremltools").setLevel(logging.ERROR)

try:
    import numpy as np
    from PIL import Image

    import mlmodel_interpreter
except ImportError as missing:
    sys.exit(
        f"quality: {missing}; run with the benchmark's virtual environment:\n"
        "  python=$(VENV=examples/generated/venv-quality bash examples/python-env.sh examples/bench/quality-requirements.txt)\n"
        "  $python examples/bench/quality.py"
    )

DATA = ROOT / "examples" / "generated" / "quality"
DEFAULT_WORK = ROOT / "examples" / "generated" / "quality-run"
MODEL_NAME = "Quality"
RESIZE_FILTERS = {"bilinear": Image.BILINEAR, "box": Image.BOX, "bicubic": Image.BICUBIC, "lanczos": Image.LANCZOS}
# dropnet's own preprocessing keeps the central 87.5% of the shorter side (ImagePreprocessor).
DROPNET_CENTRAL_FRACTION = 0.875
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
            {"step": name, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "load_average_1min": round(load, 2)}
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


def dropnet_input(path, size):
    """dropnet's own preprocessing: the central 87.5% square, area-averaged to the input size."""
    image = Image.open(path).convert("RGB")
    width, height = image.size
    shorter = min(width, height)
    side = min(shorter, max(1, round(DROPNET_CENTRAL_FRACTION * shorter)))
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


def percent(part, whole):
    return f"{part:>3}/{whole:<3} {100 * part / whole:5.1f}%"


def print_report(result):
    columns = result["columns"]
    titles = {"exported": "exported .mlmodel", "exported_dropnet_crop": "same, dropnet crop", "predict": "dropnet predict"}
    width = max(len(label) for label in result["classes"] + ["mean of classes"]) + 2
    print(
        f"\nquality: {len(result['classes'])} classes, {result['photos']} test photos never in a movie; "
        f"train {' '.join(result['train_arguments']) or '(default settings)'}"
    )
    print(
        f"exported .mlmodel: the whole photo resized to 224x224 (PIL {result['resize']}), as an iPhone app with "
        "Vision's .centerCrop; same, dropnet crop: the central 87.5%, PIL box; dropnet predict: the checkpoint"
    )
    print("class".ljust(width) + "".join(titles[c].rjust(22) for c in columns))
    for label in result["classes"]:
        cells = [percent(result[c]["per_class"][label]["correct"], result[c]["per_class"][label]["total"]) for c in columns]
        print(label.ljust(width) + "".join(cell.rjust(22) for cell in cells))
    print("overall".ljust(width) + "".join(percent(result[c]["correct"], result[c]["total"]).rjust(22) for c in columns))
    print(
        "mean of classes".ljust(width)
        + "".join(f"{100 * result[c]['mean_class_accuracy']:5.1f}%".rjust(22) for c in columns)
    )
    agree = result["agreement_exported_vs_predict"]
    print(f"exported .mlmodel and dropnet predict give the same class for {agree}/{result['photos']} photos")
    confusions = result["exported"]["confusions"][:8]
    if confusions:
        print(
            "top confusions (exported .mlmodel, true -> predicted): "
            + ", ".join(f"{c['true']} -> {c['predicted']} {c['count']}" for c in confusions)
        )
    training = result.get("training", {})
    if training:
        print(
            "training: "
            + ", ".join(f"{key} {value}" for key, value in training.items() if not isinstance(value, (dict, list)))
        )
    steps = ", ".join(
        f"{s['step']} {s['seconds']:.1f} s (cpu {s['cpu_seconds']:.1f} s, load {s['load_average_1min']:.1f})"
        for s in result["steps"]
    )
    print(f"steps: {steps}")
    print(f"pipeline (extract + train + export): {result['pipeline_seconds']:.1f} s on {os.cpu_count()} cores")


def training_summary(report_path):
    """A few facts of the run's report.json, for the printout (whatever of them is there)."""
    try:
        report = json.loads(Path(report_path).read_text())
    except (OSError, ValueError):
        return {}
    summary = {}
    for key in ("bestEpoch", "validationAccuracy", "validationLoss", "fineTune", "epochs"):
        if key in report and not isinstance(report[key], (dict, list)):
            summary[key] = report[key]
    return summary


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
    arguments = sys.argv[1:]
    train_arguments = []
    if "--" in arguments:
        split = arguments.index("--")
        arguments, train_arguments = arguments[:split], arguments[split + 1:]
    options = parser.parse_args(arguments)

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

    state, run, export = work / "state", work / "run", work / "export"
    for folder in ([run, export] if options.reuse_extraction else [state, run, export]):
        shutil.rmtree(folder, ignore_errors=True)
    pipeline_started = len(steps.records)
    steps.run("extract", lambda: run_command(
        [dropnet, "extract", "--drop", str(DATA / "drop"), "--state", str(state)], logs / "extract.log"))
    steps.run("train", lambda: run_command(
        [dropnet, "train", "--state", str(state), "--run", str(run), *train_arguments], logs / "train.log"))
    checkpoint = str(run / "best.safetensors")
    steps.run("export", lambda: run_command(
        [dropnet, "export", "--checkpoint", checkpoint, "--out", str(export), "--name", MODEL_NAME],
        logs / "export.log"))
    pipeline_seconds = sum(s["seconds"] for s in steps.records[pipeline_started:])

    photos = test_photos()
    network = mlmodel_interpreter.load(export / f"{MODEL_NAME}.mlmodel")
    size = network.input_size
    exported = steps.run("interpret", lambda: interpret(
        network, photos, lambda path: phone_input(path, size, options.resize)))
    cropped = steps.run("interpret (dropnet crop)", lambda: interpret(
        network, photos, lambda path: dropnet_input(path, size)))
    predicted = steps.run("predict", lambda: dropnet_predict(dropnet, checkpoint, photos, logs / "predict.log"))

    classes = sorted({label for _, label in photos})
    missing = sorted(set(classes) - set(network.labels))
    if missing:
        print(f"quality: the model has no class {', '.join(missing)}: all their photos count as wrong", file=sys.stderr)
    result = {
        "classes": classes,
        "photos": len(photos),
        "train_arguments": train_arguments,
        "resize": options.resize,
        "columns": ["exported", "exported_dropnet_crop", "predict"],
        "exported": score(photos, exported, classes),
        "exported_dropnet_crop": score(photos, cropped, classes),
        "predict": score(photos, predicted, classes),
        "agreement_exported_vs_predict": sum(a[0] == b[0] for a, b in zip(exported, predicted)),
        "training": training_summary(run / "report.json"),
        "steps": steps.records,
        "pipeline_seconds": round(pipeline_seconds, 2),
        "cores": os.cpu_count(),
        "model": str(export / f"{MODEL_NAME}.mlmodel"),
    }
    print_report(result)
    if options.json:
        result["per_photo"] = [
            {
                "photo": str(path.relative_to(DATA)),
                "label": label,
                "exported": {"label": e[0], "probability": round(e[1], 4)},
                "exported_dropnet_crop": {"label": c[0], "probability": round(c[1], 4)},
                "predict": {"label": p[0], "probability": round(p[1], 4)},
            }
            for (path, label), e, c, p in zip(photos, exported, cropped, predicted)
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
