#!/usr/bin/env python3
"""Independent reference outputs of ImageNet MobileNet v1 for dropnet's engine tests.

Runs the same frozen GraphDef dropnet imports (examples/weights/mobilenet_v1_imagenet.pb,
from examples/fetch-weights.sh) with TensorFlow on a few real photos nobody on the project
made, and writes, per photo, into Fixtures/reference/:

  <photo>.rgb   the exact 224x224 uint8 RGB input (row-major, 150528 bytes)
  <photo>.json  TF's outputs for that input: the 1024-d pooled features, the 1001 logits and
                probabilities, top-5 classes, and for every post-ReLU6 layer a seeded sample of
                values (with NHWC indices) plus per-channel means.

Preprocessing (the policy dropnet uses, see ImagePreprocessor.swift): central crop of the
largest centred square times 0.875 of the shorter side, resize to 224x224 with area
averaging, round to uint8; then x = (byte - 127.5) / 127.5 in float32, RGB, NHWC.

TensorFlow is a test-time tool only (pip install tensorflow-cpu==2.21.0 scikit-image).
Usage, from the package root:  python3 Tests/DropnetModelTests/Fixtures/make_reference.py
"""
import hashlib
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402
import skimage  # noqa: E402
import skimage.data  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GRAPH = os.path.join(ROOT, "examples", "weights", "mobilenet_v1_imagenet.pb")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference")
OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"
LABELS = os.path.join(OPENCV_DATA, "dnn", "classification_classes_ILSVRC2012.txt")

SIZE = 224
# TF-slim's evaluation preprocessing keeps the central 87.5% of the image.
CENTRAL_FRACTION = 0.875
# Values sampled per layer: enough to catch layout or padding mistakes anywhere in the map,
# few enough to keep the fixtures small.
SAMPLES_PER_LAYER = 128
SEED = 20261129

PHOTOS = [
    # name, loader, source description (see README.md)
    ("baboon", lambda: np.asarray(Image.open(f"{OPENCV_DATA}/baboon.jpg").convert("RGB"))),
    ("orange", lambda: np.asarray(Image.open(f"{OPENCV_DATA}/orange.jpg").convert("RGB"))),
    ("squirrel", lambda: np.asarray(Image.open(f"{OPENCV_DATA}/squirrel_cls.jpg").convert("RGB"))),
    ("chelsea", skimage.data.chelsea),
    ("coffee", skimage.data.coffee),
]

LAYERS = ["Conv2d_0"] + [
    f"Conv2d_{block}_{kind}" for block in range(1, 14) for kind in ("depthwise", "pointwise")
]


def f32(value):
    """The shortest decimal that reads back as the same float32 (at most 9 digits)."""
    return float(str(np.float32(value)))


def central_crop_rectangle(width, height, fraction=CENTRAL_FRACTION):
    """(x, y, side, side): the centred square of side round(fraction * min(width, height))."""
    side = max(1, int(round(fraction * min(width, height))))
    return (width - side) // 2, (height - side) // 2, side, side


def model_input(rgb):
    """uint8 HxWx3 photo -> uint8 224x224x3: central crop, then area resize."""
    height, width, _ = rgb.shape
    x, y, w, h = central_crop_rectangle(width, height)
    crop = rgb[y : y + h, x : x + w, :].astype(np.float32)
    resized = tf.image.resize(crop[None], (SIZE, SIZE), method="area").numpy()[0]
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def weights_summary():
    """Per Const float tensor of the graph, read with TensorFlow's own protobuf code: shape,
    float64 sum, and a few values, so the Swift importer's output can be checked exactly."""
    graph_def = tf.compat.v1.GraphDef()
    with open(GRAPH, "rb") as handle:
        graph_def.ParseFromString(handle.read())
    summary = {}
    for node in graph_def.node:
        if node.op != "Const" or not node.name.startswith("MobilenetV1/"):
            continue
        values = tf.make_ndarray(node.attr["value"].tensor)
        if values.dtype != np.float32 or values.ndim == 0:
            continue
        flat = values.reshape(-1)
        summary[node.name] = {
            "shape": list(values.shape),
            "sum": float(flat.astype(np.float64).sum()),
            "first": [f32(v) for v in flat[:3]],
            "last": f32(flat[-1]),
        }
    return summary


def load_graph(batch):
    graph_def = tf.compat.v1.GraphDef()
    with open(GRAPH, "rb") as handle:
        graph_def.ParseFromString(handle.read())
    graph = tf.Graph()
    with graph.as_default():
        # The frozen graph's input is fixed to batch 1; map a batch-sized placeholder over it.
        images = tf.compat.v1.placeholder(tf.float32, [batch, SIZE, SIZE, 3], name="images")
        tf.graph_util.import_graph_def(graph_def, input_map={"input:0": images}, name="")
    return graph, images


def main():
    if not os.path.exists(GRAPH):
        sys.exit(f"{GRAPH} is missing: run examples/fetch-weights.sh first")
    os.makedirs(OUT, exist_ok=True)
    labels = ["background"] + [line.rstrip("\n") for line in open(LABELS)]
    inputs = np.stack([model_input(loader()) for _, loader, in PHOTOS])
    # The preprocessing dropnet implements, in float32, in the same order of operations.
    x = (inputs.astype(np.float32) - np.float32(127.5)) / np.float32(127.5)

    graph, images = load_graph(len(PHOTOS))
    layer_tensors = {f"MobilenetV1/{name}": f"MobilenetV1/MobilenetV1/{name}/Relu6:0" for name in LAYERS}
    fetches = {
        "features": "MobilenetV1/Logits/AvgPool_1a/AvgPool:0",
        "logits": "MobilenetV1/Predictions/Reshape:0",
        **layer_tensors,
    }
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
    with tf.compat.v1.Session(graph=graph, config=config) as session:
        tensors = {key: graph.get_tensor_by_name(name) for key, name in fetches.items()}
        results = session.run(tensors, {images: x})
    # The graph ends at logits (its own softmax belongs to a retrained 2-class head that
    # dropnet ignores); softmax over the 1001 ImageNet logits, in float32.
    probabilities = tf.nn.softmax(results["logits"].astype(np.float32)).numpy()

    with open(os.path.join(OUT, "weights_summary.json"), "w") as handle:
        json.dump(weights_summary(), handle, indent=1, sort_keys=True)
        handle.write("\n")

    rng = np.random.RandomState(SEED)
    graph_sha256 = hashlib.sha256(open(GRAPH, "rb").read()).hexdigest()
    for index, (name, _) in enumerate(PHOTOS):
        rgb = inputs[index]
        with open(os.path.join(OUT, f"{name}.rgb"), "wb") as handle:
            handle.write(rgb.tobytes())
        top5 = np.argsort(-probabilities[index])[:5]
        layers = {}
        for layer in layer_tensors:
            values = results[layer][index]  # HWC for this image
            height, width, channels = values.shape
            positions = np.stack(
                [
                    rng.randint(0, height, SAMPLES_PER_LAYER),
                    rng.randint(0, width, SAMPLES_PER_LAYER),
                    rng.randint(0, channels, SAMPLES_PER_LAYER),
                ],
                axis=1,
            )
            layers[layer] = {
                "shape": [1, height, width, channels],
                # NHWC index within this image's batch item (n is always 0).
                "indices": [[0, int(h), int(w), int(c)] for h, w, c in positions],
                "values": [f32(values[h, w, c]) for h, w, c in positions],
                "channel_means": [f32(v) for v in values.astype(np.float64).mean(axis=(0, 1))],
            }
        record = {
            "photo": name,
            "input_file": f"{name}.rgb",
            "input_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
            "graph_sha256": graph_sha256,
            "tensorflow_version": tf.__version__,
            "top5": [
                {"index": int(i), "label": labels[i], "probability": f32(probabilities[index, i])}
                for i in top5
            ],
            "features": [f32(v) for v in results["features"][index].reshape(-1)],
            "logits": [f32(v) for v in results["logits"][index]],
            "probabilities": [f32(v) for v in probabilities[index]],
            "layers": layers,
        }
        with open(os.path.join(OUT, f"{name}.json"), "w") as handle:
            json.dump(record, handle, separators=(",", ":"))
            handle.write("\n")
        summary = ", ".join(f"{t['label'].split(',')[0]} {t['probability']:.3f}" for t in record["top5"])
        print(f"{name}: {summary}")


if __name__ == "__main__":
    main()
