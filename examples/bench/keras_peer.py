#!/usr/bin/env python3
"""Side-by-side peer for dropnet's engine: MobileNet v1 1.0/224 inference in Keras/TF 2.21.

Builds tf.keras.applications.MobileNet(alpha=1.0, weights=None, classes=1001), loads the
ImageNet weights from the same frozen graph dropnet imports (examples/weights/
mobilenet_v1_imagenet.pb, from examples/fetch-weights.sh), checks that the Keras model
reproduces the frozen graph on a reference photo, then times model.predict at batch 16 with
2 threads and prints images/s (`--json`: one JSON object instead). `--graph` times the frozen
graph itself (a TF session) instead.
`--train bn|head` times the seed's training step instead (`dropnet bench train`'s peer): the
base without its classifier, global average pooling, Dense(256, relu), BatchNormalization,
Dropout(0.5), Dense(4, softmax), SGD(1e-3, momentum 0.9); `bn` trains every batch norm of the
base in batch-statistics mode (convolutions frozen), `head` freezes the whole base.

Not part of CI; examples/bench/side_by_side.py runs it interleaved with dropnet's own
benchmark. Needs TensorFlow in a virtual environment (Debian's python3 refuses pip installs):
    python=$(VENV=$PWD/examples/generated/venv-keras bash examples/python-env.sh \
        examples/bench/keras-requirements.txt)
Usage, from the package root:
    $python examples/bench/keras_peer.py [--batches 10] [--threads 2] [--graph] [--json]
    $python examples/bench/keras_peer.py --train bn --batch 32 [--batches 5]
"""
import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GRAPH = os.path.join(ROOT, "examples", "weights", "mobilenet_v1_imagenet.pb")
PHOTO = os.path.join(ROOT, "Tests", "DropnetModelTests", "Fixtures", "reference", "coffee.rgb")
BATCH = 16
SIZE = 224
CLASSES = 1001


def graph_constants():
    graph_def = tf.compat.v1.GraphDef()
    with open(GRAPH, "rb") as handle:
        graph_def.ParseFromString(handle.read())
    constants = {
        node.name: tf.make_ndarray(node.attr["value"].tensor)
        for node in graph_def.node
        if node.op == "Const"
    }
    return graph_def, constants


def keras_model(constants):
    """Keras MobileNet with every layer's weights taken from the TF-slim constants."""
    model = tf.keras.applications.MobileNet(
        input_shape=(SIZE, SIZE, 3), alpha=1.0, weights=None, classes=CLASSES,
        classifier_activation="softmax",
    )

    def batch_norm(scope):
        prefix = f"MobilenetV1/{scope}/BatchNorm/"
        return [constants[prefix + n] for n in ("gamma", "beta", "moving_mean", "moving_variance")]

    model.get_layer("conv1").set_weights([constants["MobilenetV1/Conv2d_0/weights"]])
    model.get_layer("conv1_bn").set_weights(batch_norm("Conv2d_0"))
    for block in range(1, 14):
        depthwise, pointwise = f"Conv2d_{block}_depthwise", f"Conv2d_{block}_pointwise"
        model.get_layer(f"conv_dw_{block}").set_weights(
            [constants[f"MobilenetV1/{depthwise}/depthwise_weights"]])
        model.get_layer(f"conv_dw_{block}_bn").set_weights(batch_norm(depthwise))
        model.get_layer(f"conv_pw_{block}").set_weights(
            [constants[f"MobilenetV1/{pointwise}/weights"]])
        model.get_layer(f"conv_pw_{block}_bn").set_weights(batch_norm(pointwise))
    model.get_layer("conv_preds").set_weights([
        constants["MobilenetV1/Logits/Conv2d_1c_1x1/weights"],
        constants["MobilenetV1/Logits/Conv2d_1c_1x1/biases"],
    ])
    return model


def training_step(constants, mode, batch_size):
    """The seed's model and optimiser; returns a function that runs one SGD step."""
    base = keras_model(constants)
    features = base.get_layer("conv_pw_13_relu").output
    x = tf.keras.layers.GlobalAveragePooling2D()(features)
    x = tf.keras.layers.Dense(256, activation="relu")(x)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.Dropout(0.5)(x)
    outputs = tf.keras.layers.Dense(4, activation="softmax")(x)
    model = tf.keras.Model(base.input, outputs)
    for layer in base.layers:
        is_batch_norm = isinstance(layer, tf.keras.layers.BatchNormalization)
        layer.trainable = mode == "bn" and is_batch_norm
    model.compile(
        optimizer=tf.keras.optimizers.SGD(learning_rate=1e-3, momentum=0.9),
        loss="sparse_categorical_crossentropy")
    labels = np.arange(batch_size) % 4
    return lambda x: model.train_on_batch(x, labels)


def graph_runner(graph_def, threads):
    graph = tf.Graph()
    with graph.as_default():
        images = tf.compat.v1.placeholder(tf.float32, [None, SIZE, SIZE, 3])
        tf.graph_util.import_graph_def(graph_def, input_map={"input:0": images}, name="")
        logits = graph.get_tensor_by_name("MobilenetV1/Predictions/Reshape:0")
        probabilities = tf.nn.softmax(logits)
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
    session = tf.compat.v1.Session(graph=graph, config=config)
    return lambda x: session.run(probabilities, {images: x})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10, help="timed batches")
    parser.add_argument("--threads", type=int, default=2, help="TF intra-op threads")
    parser.add_argument("--graph", action="store_true", help="time the frozen graph instead")
    parser.add_argument("--train", choices=["bn", "head"], help="time a training step instead")
    parser.add_argument("--batch", type=int, default=BATCH, help="images per batch")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    arguments = parser.parse_args()
    if not os.path.exists(GRAPH):
        raise SystemExit(f"{GRAPH} is missing: run examples/fetch-weights.sh first")
    tf.config.threading.set_intra_op_parallelism_threads(arguments.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    graph_def, constants = graph_constants()
    run_graph = graph_runner(graph_def, arguments.threads)
    photo = np.frombuffer(open(PHOTO, "rb").read(), np.uint8).reshape(1, SIZE, SIZE, 3)
    photo = (photo.astype(np.float32) - np.float32(127.5)) / np.float32(127.5)
    reference = run_graph(photo)

    if arguments.train:
        name = f"Keras training step, --fine-tune {arguments.train} (train_on_batch)"
        predict = training_step(constants, arguments.train, arguments.batch)
    elif arguments.graph:
        name, predict = "frozen graph (tf.compat.v1.Session.run)", run_graph
    else:
        model = keras_model(constants)
        name = "Keras MobileNet (model.predict_on_batch)"
        predict = model.predict_on_batch
        difference = float(np.abs(predict(photo) - reference).max())
        print(f"Keras vs frozen graph on coffee.rgb: max |probability difference| {difference:.2e}")
        if difference > 1e-4:
            raise SystemExit("the Keras model does not reproduce the frozen graph")
    print(f"top-1 on coffee.rgb: class {int(reference.argmax())} (968 = espresso)")

    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, size=(arguments.batch, SIZE, SIZE, 3)).astype(np.float32)
    for _ in range(2):  # warm-up: kernel selection, graph tracing
        predict(batch)
    start = time.perf_counter()
    for _ in range(arguments.batches):
        predict(batch)
    elapsed = time.perf_counter() - start
    images = arguments.batches * arguments.batch
    if arguments.json:
        print(json.dumps({
            "peer": name, "tensorflow": tf.__version__, "work": arguments.train or "infer",
            "batch": arguments.batch, "threads": arguments.threads, "images": images,
            "seconds": elapsed, "imagesPerSecond": images / elapsed}))
        return
    print(
        f"{name}, TF {tf.__version__}, batch {arguments.batch}, {arguments.threads} threads: "
        f"{images / elapsed:.1f} images/s ({images} images in {elapsed:.2f} s)")


if __name__ == "__main__":
    main()
