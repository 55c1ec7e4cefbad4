"""A small NumPy interpreter for dropnet's CoreML classifiers (NeuralNetworkClassifier).

Written from the CoreML specification's own definitions (Model.proto, NeuralNetwork.proto):
convolution weights [outputChannels, kernelChannels, kH, kW], borderAmounts [height, width],
unary THRESHOLD y = max(alpha, scale x + shift) (scale 0 means 1), innerProduct weights
[outputChannels, inputChannels], half-precision weights as IEEE float16, and the image input's
scaler (channelScale x + per-channel bias). It shares nothing with dropnet's own writer or
reader, so a layout mistake made the same way in both is still caught. It interprets the layer
kinds dropnet writes (convolution, including depthwise; THRESHOLD; global average pooling;
inner product; ReLU; softmax) and refuses any other.

Used by check_mlmodel.py (the export tests) and examples/bench/quality.py (accuracy through the
exported file). Needs numpy, and coremltools for the protobuf classes.

    network = load("Model.mlmodel")                # a parsed .mlmodel
    probabilities(network, images)                  # images: [N, 224, 224, 3] uint8 RGB
"""
import numpy as np


class UnsupportedModel(ValueError):
    """The model uses something this interpreter does not implement; the message names it."""


class Network:
    """The parts of a classifier's spec the interpreter runs: layers, scaler, labels."""

    def __init__(self, spec):
        kind = spec.WhichOneof("Type")
        if kind != "neuralNetworkClassifier":
            raise UnsupportedModel(f"model type {kind}; only neuralNetworkClassifier is interpreted")
        self.spec = spec
        self.classifier = spec.neuralNetworkClassifier
        self.labels = list(self.classifier.stringClassLabels.vector)
        image = spec.description.input[0].type.imageType
        self.input_size = (image.width, image.height)


def load(path):
    """Parses a .mlmodel file (protobuf) into a Network."""
    from coremltools.proto import Model_pb2

    spec = Model_pb2.Model()
    with open(path, "rb") as handle:
        spec.ParseFromString(handle.read())
    return Network(spec)


def weights_array(params):
    """A WeightParams as a float32 NumPy array (half precision widened exactly)."""
    if len(params.floatValue) > 0:
        return np.array(params.floatValue, dtype=np.float32)
    return np.frombuffer(params.float16Value, dtype="<f2").astype(np.float32)


def probabilities(network, images):
    """The class probabilities for a batch of RGB images: [N, H, W, 3] uint8 -> [N, classes].

    Tensors are [N, C, H, W], as CoreML lays out an image input (with a batch axis).
    """
    classifier = network.classifier if isinstance(network, Network) else network
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if len(classifier.preprocessing) != 1 or classifier.preprocessing[0].WhichOneof("preprocessor") != "scaler":
        raise UnsupportedModel("expected one scaler preprocessing entry")
    scaler = classifier.preprocessing[0].scaler
    biases = np.array([scaler.redBias, scaler.greenBias, scaler.blueBias], dtype=np.float32)
    image = images.transpose(0, 3, 1, 2).astype(np.float32)
    blobs = {"image": image * np.float32(scaler.channelScale) + biases[None, :, None, None]}
    # How many layers still read each blob: a blob read by no later layer is dropped, and an
    # element-wise layer overwrites its input in place when it is that input's last reader.
    readers = {}
    for layer in classifier.layers:
        for name in layer.input:
            readers[name] = readers.get(name, 0) + 1
    for layer in classifier.layers:
        x = blobs[layer.input[0]]
        readers[layer.input[0]] -= 1
        last_reader = readers[layer.input[0]] == 0
        if last_reader:
            del blobs[layer.input[0]]
        kind = layer.WhichOneof("layer")
        if kind == "convolution":
            x = convolution(layer, x)
        elif kind == "unary":
            unary = layer.unary
            if unary.type != unary.THRESHOLD:
                raise UnsupportedModel(f"{layer.name}: only THRESHOLD is interpreted")
            scale = unary.scale if unary.scale != 0 else 1.0  # the spec: 0 means 1
            x = x if last_reader else x.copy()
            if scale != 1:
                x *= np.float32(scale)
            if unary.shift != 0:
                x += np.float32(unary.shift)
            np.maximum(x, np.float32(unary.alpha), out=x)
        elif kind == "pooling":
            pooling = layer.pooling
            if not (pooling.globalPooling and pooling.type == pooling.AVERAGE):
                raise UnsupportedModel(f"{layer.name}: only global average pooling is interpreted")
            x = x.mean(axis=(2, 3), keepdims=True)
        elif kind == "innerProduct":
            product = layer.innerProduct
            w = weights_array(product.weights).reshape(product.outputChannels, product.inputChannels)
            x = x.reshape(len(x), -1) @ w.T
            if product.hasBias:
                x = x + weights_array(product.bias)
            x = x.reshape(len(x), -1, 1, 1)
        elif kind == "activation":
            if layer.activation.WhichOneof("NonlinearityType") != "ReLU":
                raise UnsupportedModel(f"{layer.name}: only ReLU is interpreted")
            x = np.maximum(x, 0, out=x if last_reader else None)
        elif kind == "softmax":
            e = np.exp(x - x.max(axis=1, keepdims=True))
            x = e / e.sum(axis=1, keepdims=True)
        else:
            raise UnsupportedModel(f"{layer.name}: layer kind {kind} is not interpreted")
        blobs[layer.output[0]] = x
    return blobs["classLabelProbs"].reshape(len(images), -1).astype(np.float64)


def convolution(layer, x):
    """One convolution layer with explicit ('valid' + border amounts) padding, [N, C, H, W]."""
    conv = layer.convolution
    if conv.WhichOneof("ConvolutionPaddingType") != "valid":
        raise UnsupportedModel(f"{layer.name}: only explicit (valid) padding is interpreted")
    kernel_height, kernel_width = conv.kernelSize
    stride_y, stride_x = conv.stride
    w = weights_array(conv.weights).reshape(conv.outputChannels, conv.kernelChannels, kernel_height, kernel_width)
    height_edges, width_edges = conv.valid.paddingAmounts.borderAmounts
    x = np.pad(x, ((0, 0), (0, 0), (height_edges.startEdgeSize, height_edges.endEdgeSize),
                   (width_edges.startEdgeSize, width_edges.endEdgeSize)))
    batch = len(x)
    out_height = (x.shape[2] - kernel_height) // stride_y + 1
    out_width = (x.shape[3] - kernel_width) // stride_x + 1
    depthwise = conv.nGroups != 1
    if depthwise and not (conv.kernelChannels == 1 and conv.nGroups == conv.outputChannels):
        raise UnsupportedModel(f"{layer.name}: only depthwise grouping is interpreted")
    if depthwise:  # one input channel per group: a weighted sum of shifted windows
        y = np.zeros((batch, conv.outputChannels, out_height, out_width), dtype=np.float32)
        product = np.empty_like(y)
        for row in range(kernel_height):
            for column in range(kernel_width):
                np.multiply(window(x, row, column, stride_y, stride_x, out_height, out_width),
                            w[:, 0, row, column][None, :, None, None], out=product)
                y += product
    else:
        # Every output pixel's receptive field as a column (C, kH, kW order, as the weights),
        # then one matrix product per image.
        if (kernel_height, kernel_width, stride_y, stride_x) == (1, 1, 1, 1):
            columns = x.reshape(batch, x.shape[1], -1)
        else:
            columns = np.stack([window(x, row, column, stride_y, stride_x, out_height, out_width)
                                for row in range(kernel_height) for column in range(kernel_width)], axis=2)
            columns = columns.reshape(batch, -1, out_height * out_width)
        y = np.matmul(w.reshape(conv.outputChannels, -1), columns).reshape(
            batch, conv.outputChannels, out_height, out_width)
    if conv.hasBias:
        y += weights_array(conv.bias)[None, :, None, None]
    return y


def window(x, row, column, stride_y, stride_x, out_height, out_width):
    """The input pixels that kernel position (row, column) meets for every output pixel."""
    return x[:, :, row:row + stride_y * (out_height - 1) + 1:stride_y,
             column:column + stride_x * (out_width - 1) + 1:stride_x]
