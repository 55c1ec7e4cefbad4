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
it, as in Tests/DropnetModelTests/Fixtures/reference), the layers are also run by the small
NumPy interpreter beside this file (mlmodel_interpreter.py, written from the CoreML
specification's own definitions) and the probabilities compared with TensorFlow's softmax:
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

import mlmodel_interpreter


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
        try:
            actual = mlmodel_interpreter.probabilities(network, rgb.reshape(1, 224, 224, 3))[0]
        except mlmodel_interpreter.UnsupportedModel as error:
            fail(str(error))
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
