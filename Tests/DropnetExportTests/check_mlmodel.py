#!/usr/bin/env python3
"""Third-party check of a dropnet CoreML export with Apple's coremltools (PyPI).

    python3 check_mlmodel.py MODEL.mlmodel,SUMMARY.json[,float16][,updatable][,photo=STEM...] [...]

Each argument names one export: the model, its summary, and what the export was asked for
(half-precision weights, updatable); several exports share one start-up of coremltools. Loads
each file with coremltools.utils.load_spec and coremltools.models.MLModel(path,
skip_model_load=True) (CoreML itself cannot run on Linux), then checks the input and output
descriptions, the preprocessing, the labels against the export summary, the layer wiring
(every layer input produced earlier, unique outputs) and the weight count of every layer
against the channel widths flowing through the network. Prints one JSON line of facts and
exits 0, or prints what is wrong and exits 1 at the first problem.

With photo=STEM (STEM.rgb: 224x224 packed RGB bytes; STEM.json: TensorFlow's "logits" for
it, as in Tests/DropnetModelTests/Fixtures/reference), the layers are also run by a small
NumPy interpreter written from the CoreML specification's own definitions (weights
[out, in/groups, kH, kW], borderAmounts [height, width], THRESHOLD y = max(alpha, scale x +
shift), inner product [out, in]) and the probabilities compared with TensorFlow's softmax:
independent of dropnet's own reader, so a layout mistake made the same way in the writer and
the reader is still caught.

Needs: pip install coremltools==9.0
"""
import argparse
import json
import sys

import coremltools as ct
import numpy as np
from coremltools.proto import FeatureTypes_pb2


def fail(message):
    print(f"check_mlmodel: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def weight_count(params):
    """Number of values in a WeightParams and whether they are half precision."""
    if len(params.floatValue) > 0:
        return len(params.floatValue), False
    return len(params.float16Value) // 2, True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("exports", nargs="+", help="MODEL,SUMMARY[,float16][,updatable]")
    for export in parser.parse_args().exports:
        parts = export.split(",")
        flags = [part for part in parts[2:] if not part.startswith("photo=")]
        photos = [part[len("photo="):] for part in parts[2:] if part.startswith("photo=")]
        if len(parts) < 2 or not set(flags) <= {"float16", "updatable"}:
            fail(f"bad argument {export!r}: expected MODEL,SUMMARY[,float16][,updatable]"
                 "[,photo=STEM...]")
        check(argparse.Namespace(
            model=parts[0], summary=parts[1], float16="float16" in flags,
            updatable="updatable" in flags, photos=photos))


def weights_array(params):
    """A WeightParams as a float32 NumPy array (half precision widened exactly)."""
    if len(params.floatValue) > 0:
        return np.array(params.floatValue, dtype=np.float32)
    return np.frombuffer(params.float16Value, dtype="<f2").astype(np.float32)


def run_network(network, rgb):
    """The probabilities the classifier's layers give for one packed RGB image, [classes].

    Tensors are [C, H, W], as CoreML lays out an image input."""
    scaler = network.preprocessing[0].scaler
    image = rgb.reshape(224, 224, 3).transpose(2, 0, 1).astype(np.float32)
    biases = np.array([scaler.redBias, scaler.greenBias, scaler.blueBias], dtype=np.float32)
    blobs = {"image": image * np.float32(scaler.channelScale) + biases[:, None, None]}
    for layer in network.layers:
        x = blobs[layer.input[0]]
        kind = layer.WhichOneof("layer")
        if kind == "convolution":
            conv = layer.convolution
            kernel_height, kernel_width = conv.kernelSize
            stride_y, stride_x = conv.stride
            w = weights_array(conv.weights).reshape(
                conv.outputChannels, conv.kernelChannels, kernel_height, kernel_width)
            height_edges, width_edges = conv.valid.paddingAmounts.borderAmounts
            x = np.pad(x, ((0, 0), (height_edges.startEdgeSize, height_edges.endEdgeSize),
                           (width_edges.startEdgeSize, width_edges.endEdgeSize)))
            out_height = (x.shape[1] - kernel_height) // stride_y + 1
            out_width = (x.shape[2] - kernel_width) // stride_x + 1
            y = np.zeros((conv.outputChannels, out_height, out_width), dtype=np.float32)
            for row in range(kernel_height):
                for column in range(kernel_width):
                    window = x[:, row:row + stride_y * (out_height - 1) + 1:stride_y,
                               column:column + stride_x * (out_width - 1) + 1:stride_x]
                    if conv.nGroups == 1:
                        y += np.tensordot(w[:, :, row, column], window, axes=(1, 0))
                    else:  # depthwise: one input channel per group
                        expect(conv.kernelChannels == 1 and conv.nGroups == conv.outputChannels,
                               f"{layer.name}: only depthwise grouping is interpreted")
                        y += w[:, 0, row, column][:, None, None] * window
            x = y + weights_array(conv.bias)[:, None, None]
        elif kind == "unary":
            unary = layer.unary
            expect(unary.type == unary.THRESHOLD, f"{layer.name}: only THRESHOLD is interpreted")
            scale = unary.scale if unary.scale != 0 else 1.0  # the spec: 0 means 1
            x = np.maximum(np.float32(unary.alpha), np.float32(scale) * x + np.float32(unary.shift))
        elif kind == "pooling":
            x = x.mean(axis=(1, 2), keepdims=True)
        elif kind == "innerProduct":
            product = layer.innerProduct
            w = weights_array(product.weights).reshape(product.outputChannels, product.inputChannels)
            x = (w @ x.reshape(-1) + weights_array(product.bias)).reshape(-1, 1, 1)
        elif kind == "activation":
            expect(layer.activation.WhichOneof("NonlinearityType") == "ReLU",
                   f"{layer.name}: only ReLU is interpreted")
            x = np.maximum(x, 0)
        elif kind == "softmax":
            e = np.exp(x - x.max(axis=0, keepdims=True))
            x = e / e.sum(axis=0, keepdims=True)
        blobs[layer.output[0]] = x
    return blobs["classLabelProbs"].reshape(-1).astype(np.float64)


def check(args):
    """Checks one export; exits 1 at the first problem."""
    with open(args.summary, encoding="utf-8") as handle:
        summary = json.load(handle)
    spec = ct.utils.load_spec(args.model)
    model = ct.models.MLModel(args.model, skip_model_load=True)
    expect(model.get_spec() == spec, "MLModel and load_spec disagree on the spec")

    expected_version = 4 if args.updatable else (2 if args.float16 else 1)
    expect(spec.specificationVersion == expected_version,
           f"specificationVersion {spec.specificationVersion}, expected {expected_version}")
    expect(spec.WhichOneof("Type") == "neuralNetworkClassifier",
           f"model type {spec.WhichOneof('Type')}, expected neuralNetworkClassifier")
    expect(spec.isUpdatable == args.updatable, f"isUpdatable is {spec.isUpdatable}")

    description = spec.description
    expect([feature.name for feature in description.input] == ["image"],
           f"inputs {[feature.name for feature in description.input]}")
    image = description.input[0].type
    expect(image.WhichOneof("Type") == "imageType", "input 'image' is not an image")
    expect((image.imageType.width, image.imageType.height) == (224, 224),
           f"image size {image.imageType.width}x{image.imageType.height}")
    expect(image.imageType.colorSpace == FeatureTypes_pb2.ImageFeatureType.RGB,
           "image colour space is not RGB")
    outputs = {feature.name: feature.type for feature in description.output}
    expect(set(outputs) == {"classLabel", "classLabelProbs"}, f"outputs {sorted(outputs)}")
    expect(outputs["classLabel"].WhichOneof("Type") == "stringType", "classLabel is not a string")
    probabilities = outputs["classLabelProbs"]
    expect(probabilities.WhichOneof("Type") == "dictionaryType"
           and probabilities.dictionaryType.WhichOneof("KeyType") == "stringKeyType",
           "classLabelProbs is not a dictionary keyed by string")
    expect(description.predictedFeatureName == "classLabel", "predictedFeatureName")
    expect(description.predictedProbabilitiesName == "classLabelProbs",
           "predictedProbabilitiesName")
    # The MLModel wrapper's own view of the interface.
    expect(model.input_description["image"] is not None, "MLModel has no 'image' input")

    metadata = description.metadata
    expect(metadata.shortDescription and metadata.author and metadata.license,
           "metadata lacks a short description, author or license")
    expect(metadata.versionString == str(summary["exportVersion"]),
           f"versionString {metadata.versionString!r}, summary says {summary['exportVersion']}")
    for key in ["dropnet_version", "architecture", "class_count", "exported_at"]:
        expect(key in metadata.userDefined, f"userDefined lacks {key}")

    network = spec.neuralNetworkClassifier
    labels = list(network.stringClassLabels.vector)
    expect(labels == summary["classLabels"], "stringClassLabels differ from the summary's labels")
    expect(len(network.preprocessing) == 1, "expected one preprocessing entry")
    scaler = network.preprocessing[0].scaler
    expect(network.preprocessing[0].featureName == "image", "preprocessing is not for 'image'")
    expect(abs(scaler.channelScale - 1 / 127.5) < 1e-9, f"channelScale {scaler.channelScale}")
    expect((scaler.redBias, scaler.greenBias, scaler.blueBias) == (-1, -1, -1),
           "per-channel biases are not -1")

    # Wiring and weight sizes: follow the channel count of every blob.
    channels = {"image": 3}
    names = set()
    parameter_count = 0
    precision = set()
    kinds = {}
    for layer in network.layers:
        kind = layer.WhichOneof("layer")
        kinds[kind] = kinds.get(kind, 0) + 1
        expect(layer.name not in names, f"duplicate layer name {layer.name}")
        names.add(layer.name)
        for blob in layer.input:
            expect(blob in channels, f"layer {layer.name} reads {blob}, produced by no earlier layer")
        expect(len(layer.input) == 1 and len(layer.output) == 1,
               f"layer {layer.name} has {len(layer.input)} inputs, {len(layer.output)} outputs")
        expect(layer.output[0] not in channels, f"blob {layer.output[0]} is written twice")
        width = channels[layer.input[0]]
        if kind == "convolution":
            conv = layer.convolution
            kernel = list(conv.kernelSize)
            expect(conv.kernelChannels * conv.nGroups == width,
                   f"{layer.name}: kernelChannels {conv.kernelChannels} x groups {conv.nGroups} "
                   f"!= {width} input channels")
            count, half = weight_count(conv.weights)
            expected = conv.outputChannels * conv.kernelChannels * kernel[0] * kernel[1]
            expect(count == expected, f"{layer.name}: {count} weights, expected {expected}")
            bias_count, bias_half = weight_count(conv.bias)
            expect(conv.hasBias and bias_count == conv.outputChannels,
                   f"{layer.name}: {bias_count} biases for {conv.outputChannels} channels")
            expect(conv.WhichOneof("ConvolutionPaddingType") == "valid"
                   and len(conv.valid.paddingAmounts.borderAmounts) == 2,
                   f"{layer.name}: padding is not explicit")
            precision.update([half, bias_half])
            parameter_count += count + bias_count
            width = conv.outputChannels
        elif kind == "innerProduct":
            product = layer.innerProduct
            expect(product.inputChannels == width,
                   f"{layer.name}: {product.inputChannels} inputs, the blob has {width}")
            count, half = weight_count(product.weights)
            expect(count == product.inputChannels * product.outputChannels,
                   f"{layer.name}: {count} weights for {product.inputChannels}x{product.outputChannels}")
            bias_count, bias_half = weight_count(product.bias)
            expect(product.hasBias and bias_count == product.outputChannels,
                   f"{layer.name}: {bias_count} biases")
            if not layer.isUpdatable:
                precision.update([half, bias_half])
            parameter_count += count + bias_count
            width = product.outputChannels
        elif kind == "unary":
            expect(layer.unary.type == layer.unary.THRESHOLD and layer.unary.scale == -1,
                   f"{layer.name}: unary other than THRESHOLD with scale -1")
        elif kind == "pooling":
            expect(layer.pooling.globalPooling and layer.pooling.type == layer.pooling.AVERAGE,
                   f"{layer.name}: not global average pooling")
        elif kind not in ("activation", "softmax"):
            fail(f"{layer.name}: unexpected layer kind {kind}")
        channels[layer.output[0]] = width

    last = network.layers[-1]
    expect(last.WhichOneof("layer") == "softmax" and last.output[0] == "classLabelProbs",
           "the last layer is not a softmax writing classLabelProbs")
    expect(channels["classLabelProbs"] == len(labels),
           f"{channels['classLabelProbs']} probabilities for {len(labels)} labels")
    expect(precision == {args.float16}, f"weight precisions found: half={sorted(precision)}")

    if args.updatable:
        updatable = [layer for layer in network.layers if layer.isUpdatable]
        expect([layer.WhichOneof("layer") for layer in updatable] == ["innerProduct"],
               "exactly the last inner product should be updatable")
        expect(updatable[0].innerProduct.weights.isUpdatable
               and updatable[0].innerProduct.bias.isUpdatable, "updatable weights not marked")
        expect(not weight_count(updatable[0].innerProduct.weights)[1],
               "the updatable layer's weights must be float32 (CoreML trains float32 only)")
        loss = network.updateParams.lossLayers[0]
        expect(loss.WhichOneof("LossLayerType") == "categoricalCrossEntropyLossLayer"
               and loss.categoricalCrossEntropyLossLayer.input == "classLabelProbs"
               and loss.categoricalCrossEntropyLossLayer.target == "classLabel",
               "loss is not categorical cross-entropy of classLabelProbs against classLabel")
        expect(network.updateParams.optimizer.WhichOneof("OptimizerType") == "sgdOptimizer",
               "optimizer is not SGD")
        expect([feature.name for feature in description.trainingInput] == ["image", "classLabel"],
               "training inputs are not image and classLabel")

    differences = []
    for stem in args.photos:
        rgb = np.fromfile(stem + ".rgb", dtype=np.uint8)
        with open(stem + ".json", encoding="utf-8") as handle:
            logits = np.array(json.load(handle)["logits"], dtype=np.float64)
        expected = np.exp(logits - logits.max())
        expected /= expected.sum()
        actual = run_network(network, rgb)
        expect(actual.shape == expected.shape, f"{len(actual)} probabilities, TensorFlow has "
               f"{len(expected)}")
        expect(int(actual.argmax()) == int(expected.argmax()),
               f"{stem}: top class {labels[int(actual.argmax())]!r}, TensorFlow says "
               f"{labels[int(expected.argmax())]!r}")
        differences.append(float(np.abs(actual - expected).max()))

    print(json.dumps({
        "ok": True,
        "model": args.model,
        "maxProbabilityDifferenceVsTensorFlow": max(differences) if differences else None,
        "specificationVersion": spec.specificationVersion,
        "layers": len(network.layers),
        "layerKinds": kinds,
        "parameters": parameter_count,
        "labels": len(labels),
        "float16": args.float16,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
