#!/usr/bin/env python3
"""Reference fixtures for FineTunerReferenceTests: a few SGD steps of MobileNet v1 + the seed's
head in Keras/TensorFlow, on the same weights and inputs the Swift test builds: the real
ImageNet base (examples/weights/mobilenet_v1_imagenet.pb, from examples/fetch-weights.sh), a
small head and synthetic images made by formula.

    env -u OPENBLAS_CORETYPE python3 Tests/DropnetTrainingTests/Fixtures/make_finetune_reference.py

Writes finetune_reference.json beside this script (committed; TensorFlow 2.21 / Keras 3).
Each run is made twice: in float32 (what dropnet computes in) and in float64, so the test can
also measure how far each float32 implementation is from exact arithmetic.

The network is built layer by layer (Conv2D / DepthwiseConv2D without bias, 'same' padding,
BatchNormalization(epsilon=1e-3, momentum=0.99), ReLU(6)), global average pooling, then the
head: Dense(16, relu) -> BatchNormalization -> Dense(3) with a weighted softmax
cross-entropy averaged over the batch. Dropout is left out (rate 0 in the Swift test): its
random masks cannot be matched across frameworks. Keras 3's BatchNormalization normalises with
the batch mean and biased variance and moves its statistics with momentum 0.99; Keras 3's SGD
is v = momentum * v - lr * g, p += v. Both are what the Swift side implements.

The head's tensors come from wave(i, t) = sin(12.9898 * i + 78.233 * t) (float64, then
float32): i is the element's flat index in the TF layout, t the tensor's number (below), so
the Swift test makes the same numbers without a file. (Synthetic base weights made this way
gave a chaotic network: loss jumping between steps, every image the same inference output.)
"""

import json
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

IMAGE_SIZE = 96
BATCH = 4
HIDDEN = 16
CLASSES = 3
LABELS = [0, 1, 2, 1]
CLASS_WEIGHTS = [1.0, 0.75, 1.5]
LEARNING_RATE = 0.01
MOMENTUM = 0.9
STEPS = 4
WEIGHTS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "../../../examples/weights/mobilenet_v1_imagenet.pb")
HEAD_TENSOR = 1000  # head tensors are 1000 + their position in HEAD_NAMES

POINTWISE = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
STRIDED = {2, 4, 6, 12}
HEAD_NAMES = [
    "Head/fc1/weights", "Head/fc1/biases", "Head/bn/gamma", "Head/bn/beta",
    "Head/bn/moving_mean", "Head/bn/moving_variance", "Head/fc2/weights", "Head/fc2/biases",
]


def layer_table():
    """(name, kind, input channels, output channels, stride) of the 27 convolutions."""
    table = [("MobilenetV1/Conv2d_0", "standard", 3, 32, 2)]
    channels = 32
    for block, out in enumerate(POINTWISE, start=1):
        stride = 2 if block in STRIDED else 1
        table.append((f"MobilenetV1/Conv2d_{block}_depthwise", "depthwise", channels, channels, stride))
        table.append((f"MobilenetV1/Conv2d_{block}_pointwise", "pointwise", channels, out, 1))
        channels = out
    return table


def wave(count, tensor):
    """sin(12.9898 i + 78.233 t), i = 0..<count, in float64."""
    index = np.arange(count, dtype=np.float64)
    return np.sin(12.9898 * index + 78.233 * tensor)


def base_values():
    """TF-slim name -> float32 array in TF layout, from the frozen ImageNet graph that
    examples/fetch-weights.sh fetches (a missing gamma is 1, as dropnet's importer does)."""
    graph = tf.compat.v1.GraphDef()
    with open(WEIGHTS, "rb") as handle:
        graph.ParseFromString(handle.read())
    constants = {node.name: node for node in graph.node if node.op == "Const"}
    values = {}
    for name, kind, _, cout, _ in layer_table():
        suffix = "/depthwise_weights" if kind == "depthwise" else "/weights"
        for tensor in [name + suffix] + [name + "/BatchNorm/" + part for part in
                                         ("gamma", "beta", "moving_mean", "moving_variance")]:
            if tensor in constants:
                values[tensor] = tf.make_ndarray(constants[tensor].attr["value"].tensor)
            elif tensor.endswith("/gamma"):
                values[tensor] = np.ones([cout])
            else:
                raise SystemExit(f"{tensor} is not in {WEIGHTS}")
    return {key: np.asarray(value, dtype=np.float32) for key, value in values.items()}


def head_values():
    shapes = {
        "Head/fc1/weights": [1024, HIDDEN], "Head/fc1/biases": [HIDDEN],
        "Head/bn/gamma": [HIDDEN], "Head/bn/beta": [HIDDEN],
        "Head/bn/moving_mean": [HIDDEN], "Head/bn/moving_variance": [HIDDEN],
        "Head/fc2/weights": [HIDDEN, CLASSES], "Head/fc2/biases": [CLASSES],
    }
    values = {}
    for position, name in enumerate(HEAD_NAMES):
        shape = shapes[name]
        w = wave(int(np.prod(shape)), HEAD_TENSOR + position)
        if name == "Head/fc1/weights":
            v = math.sqrt(6.0 / (1024 + HIDDEN)) * w
        elif name == "Head/fc2/weights":
            v = math.sqrt(6.0 / (HIDDEN + CLASSES)) * w
        elif name == "Head/bn/gamma":
            v = 1 + 0.1 * w
        elif name == "Head/bn/moving_variance":
            v = 1 + 0.5 * np.abs(w)
        else:
            v = 0.05 * w
        values[name] = v.reshape(shape).astype(np.float32)
    return values


def images():
    """[BATCH, SIZE, SIZE, 3]: a different smooth pattern per image (white noise would give
    every image nearly the same pooled features), 0.9 sin(0.05 (n + 1) x + 0.07 (c + 1) y
    + 0.5 n + 0.3 c)."""
    n, y, x, c = np.meshgrid(
        np.arange(BATCH), np.arange(IMAGE_SIZE), np.arange(IMAGE_SIZE), np.arange(3), indexing="ij")
    angle = 0.05 * (n + 1) * x + 0.07 * (c + 1) * y + 0.5 * n + 0.3 * c
    return (0.9 * np.sin(angle.astype(np.float64))).astype(np.float32)


def build(trained_convolutions):
    base, head = base_values(), head_values()
    table = layer_table()
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3))
    x = inputs
    for position, (name, kind, _, cout, stride) in enumerate(table):
        if kind == "depthwise":
            conv = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)
            kernel = base[name + "/depthwise_weights"]
        else:
            k = 1 if kind == "pointwise" else 3
            conv = layers.Conv2D(cout, k, strides=stride, padding="same", use_bias=False)
            kernel = base[name + "/weights"]
        x = conv(x)
        conv.set_weights([kernel])
        conv.trainable = position >= len(table) - trained_convolutions
        norm = layers.BatchNormalization(epsilon=1e-3, momentum=0.99)
        x = norm(x)
        norm.set_weights([base[name + "/BatchNorm/" + part]
                          for part in ("gamma", "beta", "moving_mean", "moving_variance")])
        x = layers.ReLU(6.0)(x)
    x = layers.GlobalAveragePooling2D()(x)
    fc1 = layers.Dense(HIDDEN, activation="relu")
    x = fc1(x)
    fc1.set_weights([head["Head/fc1/weights"], head["Head/fc1/biases"]])
    norm = layers.BatchNormalization(epsilon=1e-3, momentum=0.99)
    x = norm(x)
    norm.set_weights([head["Head/bn/" + p] for p in ("gamma", "beta", "moving_mean", "moving_variance")])
    fc2 = layers.Dense(CLASSES)
    logits = fc2(x)
    fc2.set_weights([head["Head/fc2/weights"], head["Head/fc2/biases"]])
    model = keras.Model(inputs, logits)
    return model


def named_variables(model):
    """TF-slim / Head name -> Keras variable, in the order the network was built."""
    names = {}
    table = layer_table()
    convs = [l for l in model.layers if isinstance(l, (layers.Conv2D, layers.DepthwiseConv2D))]
    norms = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
    denses = [l for l in model.layers if isinstance(l, layers.Dense)]
    for (name, kind, *_), conv, norm in zip(table, convs, norms):
        names[name + ("/depthwise_weights" if kind == "depthwise" else "/weights")] = conv.kernel
        names[name + "/BatchNorm/gamma"] = norm.gamma
        names[name + "/BatchNorm/beta"] = norm.beta
        names[name + "/BatchNorm/moving_mean"] = norm.moving_mean
        names[name + "/BatchNorm/moving_variance"] = norm.moving_variance
    head_norm = norms[-1]
    names["Head/fc1/weights"], names["Head/fc1/biases"] = denses[0].kernel, denses[0].bias
    names["Head/bn/gamma"], names["Head/bn/beta"] = head_norm.gamma, head_norm.beta
    names["Head/bn/moving_mean"] = head_norm.moving_mean
    names["Head/bn/moving_variance"] = head_norm.moving_variance
    names["Head/fc2/weights"], names["Head/fc2/biases"] = denses[1].kernel, denses[1].bias
    return names


def run(trained_convolutions, recorded, floatx="float32"):
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(floatx)
    model = build(trained_convolutions)
    variables = named_variables(model)
    inputs = images().astype(floatx)
    labels = tf.constant(LABELS)
    weights = tf.gather(tf.constant(CLASS_WEIGHTS, floatx), labels)
    optimizer = keras.optimizers.SGD(learning_rate=LEARNING_RATE, momentum=MOMENTUM)
    losses = []
    for _ in range(STEPS):
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            loss = tf.reduce_sum(weights * per_example) / BATCH
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        losses.append(float(loss))
    tensors = {}
    for name, indices in recorded.items():
        flat = variables[name].numpy().reshape(-1)
        tensors[name] = {"indices": indices, "values": [float(flat[i]) for i in indices]}
    inference = model(inputs, training=False)
    return {
        "trainedConvolutions": trained_convolutions,
        "losses": losses,
        "tensors": tensors,
        "inferenceLogits": [float(v) for v in np.asarray(inference).reshape(-1)],
    }


def main():
    bn_recorded = {}
    for layer in ("Conv2d_0", "Conv2d_6_depthwise", "Conv2d_13_pointwise"):
        for part in ("gamma", "beta", "moving_mean", "moving_variance"):
            bn_recorded[f"MobilenetV1/{layer}/BatchNorm/{part}"] = [0, 1, 5, 17]
    for name in ("Head/fc2/biases", "Head/bn/gamma", "Head/bn/moving_mean"):
        bn_recorded[name] = [0, 1, 2]
    bn_recorded["Head/fc1/weights"] = [0, 17, 1000, 16383]
    top_recorded = dict(bn_recorded)
    top_recorded["MobilenetV1/Conv2d_13_pointwise/weights"] = [0, 7, 123456, 1048575]
    top_recorded["MobilenetV1/Conv2d_13_depthwise/depthwise_weights"] = [0, 5, 4000, 9215]
    top_recorded["MobilenetV1/Conv2d_12_pointwise/weights"] = [3, 99999]
    fixture = {
        "generator": "Tests/DropnetTrainingTests/Fixtures/make_finetune_reference.py",
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "imageSize": IMAGE_SIZE,
        "batchSize": BATCH,
        "hiddenCount": HIDDEN,
        "classCount": CLASSES,
        "labels": LABELS,
        "classWeights": CLASS_WEIGHTS,
        "learningRate": LEARNING_RATE,
        "momentum": MOMENTUM,
        "headTensor": HEAD_TENSOR,
        "headNames": HEAD_NAMES,
        "runs": [run(0, bn_recorded), run(4, top_recorded)],
    }
    for recorded_run, recorded in zip(fixture["runs"], (bn_recorded, top_recorded)):
        exact = run(recorded_run["trainedConvolutions"], recorded, floatx="float64")
        recorded_run["losses64"] = exact["losses"]
        recorded_run["tensors64"] = exact["tensors"]
        recorded_run["inferenceLogits64"] = exact["inferenceLogits"]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "finetune_reference.json")
    with open(path, "w") as handle:
        json.dump(fixture, handle, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
