import DropnetModel
import Foundation
import SwiftProtobuf

/// Writes an `InferenceNetwork` as an ONNX model (opset 13, IR version 7) of standard operators
/// that ONNX Runtime, and any other ONNX runtime, runs as it is.
///
/// Input `image`: uint8 RGB pixels, NHWC [batch, 224, 224, 3], the bytes of a decoded image as
/// they come. The preprocessing is inside the graph: Cast to float, Transpose to NCHW, then
/// v * (1/127.5) + (-1) (Mul, Add), the [-1, 1] scaling the weights expect.
///
/// Network, per convolution `C` (TF-slim scope name without "MobilenetV1/"): `Conv` with the
/// folded weights [O, I/groups, K, K] and bias, TF 'SAME' padding as explicit `pads`
/// (asymmetric for stride 2), then `Clip` to [0, 6] (ReLU6) giving `C/relu6`. Then
/// `GlobalAveragePool`, `Flatten`, the classifier's `Gemm` (weights [out, in], transB) and
/// `Relu` layers, `Softmax`.
///
/// Outputs: `probabilities` float [batch, classes] and `label_index` int64 [batch] (ArgMax).
/// `metadata_props` holds `labels` (a JSON array of the class labels in output order),
/// `preprocessing` (the sentence above, for people), `author`, `license` and every
/// `userDefined` entry; `model_version` is the export version, `doc_string` the description.
///
/// Float16 weights are FLOAT16 initializers, each widened by a `Cast` node, so the arithmetic
/// stays float32.
public enum ONNXModelWriter {
  /// The operator set the graph is written against.
  public static let opsetVersion: Int64 = 13
  /// The IR version of the file (7 is the first to allow opset 13).
  public static let irVersion: Int64 = 7
  /// The graph's input and output names.
  public static let inputName = "image"
  public static let probabilitiesName = "probabilities"
  public static let labelIndexName = "label_index"
  /// The `metadata_props` key of the labels (a JSON array of strings).
  public static let labelsKey = "labels"
  /// The `metadata_props` key of the preprocessing sentence.
  public static let preprocessingKey = "preprocessing"
  /// The symbolic batch dimension of the input and outputs.
  static let batchDimension = "batch"

  /// What the graph does to its input before the first convolution, as written into the
  /// metadata.
  public static let preprocessing =
    "inside the graph: input `image` is uint8 RGB NHWC [batch, 224, 224, 3]; each pixel byte v "
    + "becomes v / 127.5 - 1 (mean 127.5, std 127.5) before the first convolution; feed the "
    + "bytes of a decoded image resized (and centre-cropped) to 224x224, nothing else"

  /// The serialized model (deterministic field order).
  public static func bytes(network: InferenceNetwork, metadata: ExportMetadata) throws -> Data {
    var encoding = BinaryEncodingOptions()
    encoding.useDeterministicOrdering = true
    return try model(network: network, metadata: metadata).serializedBytes(options: encoding)
  }

  /// The export version stored in a model's `model_version`, or nil when `data` is not an
  /// ONNX model that has one.
  public static func version(ofModel data: Data) -> Int? {
    guard let model = try? Onnx_ModelProto(serializedBytes: data), model.hasModelVersion,
      model.hasGraph
    else { return nil }
    return Int(model.modelVersion)
  }

  /// The ONNX `ModelProto` of `network`.
  static func model(network: InferenceNetwork, metadata: ExportMetadata) throws
    -> Onnx_ModelProto
  {
    var graph = ONNXGraphBuilder(float16: metadata.float16Weights)
    let size = Int64(network.inputSize)
    graph.graph.name = metadata.name
    graph.graph.input = [
      valueInfo(
        inputName, .uint8, [nil, size, size, 3],
        "RGB pixel bytes, NHWC, \(size)x\(size): " + preprocessing)
    ]

    graph.node("Cast", [inputName], "image_float", ints: [:], int: ["to": floatType])
    graph.node("Transpose", ["image_float"], "image_nchw", ints: ["perm": [0, 3, 1, 2]])
    graph.node(
      "Mul", ["image_nchw", graph.scalar("input_scale", InferenceNetwork.inputScale)],
      "image_scaled")
    graph.node(
      "Add", ["image_scaled", graph.scalar("input_bias", InferenceNetwork.inputBias)],
      "input")
    var blob = "input"
    let relu6Minimum = graph.scalar("relu6_min", 0)
    let relu6Maximum = graph.scalar("relu6_max", 6)
    for (convolution, padding) in zip(network.convolutions, network.paddings) {
      let layer = convolution.layer
      let name = layer.shortName
      let kernel = Int64(layer.kernelSize)
      let weights = graph.initializer(
        name + "/weights", convolution.weights, layer.outputMajorDimensions.map(Int64.init))
      let bias = graph.initializer(
        name + "/bias", convolution.bias, [Int64(layer.outputChannels)])
      let before = Int64(padding.before)
      let after = Int64(padding.after)
      graph.node(
        "Conv", [blob, weights, bias], name,
        ints: [
          "kernel_shape": [kernel, kernel], "strides": [Int64(layer.stride), Int64(layer.stride)],
          "pads": [before, before, after, after], "dilations": [1, 1],
        ], int: ["group": Int64(layer.groups)])
      blob = name + "/relu6"
      graph.node("Clip", [name, relu6Minimum, relu6Maximum], blob)
    }
    graph.node("GlobalAveragePool", [blob], "AvgPool_1a")
    graph.node("Flatten", ["AvgPool_1a"], "features", int: ["axis": 1])
    blob = "features"
    for (index, layer) in network.classifier.enumerated() {
      let name = "Logits_\(index)"
      switch layer {
      case .innerProduct(let product):
        let weights = graph.initializer(
          name + "/weights", product.weights,
          [Int64(product.outputCount), Int64(product.inputCount)])
        let bias = graph.initializer(name + "/bias", product.bias, [Int64(product.outputCount)])
        graph.node("Gemm", [blob, weights, bias], name, int: ["transB": 1])
      case .relu:
        graph.node("Relu", [blob], name)
      case .batchNorm, .dropout:
        throw ModelError(
          code: .invalidHead, message: "internal: the head was not folded before export")
      }
      blob = name
    }
    let classes = Int64(network.labels.count)
    graph.node("Softmax", [blob], probabilitiesName, int: ["axis": 1])
    graph.node(
      "ArgMax", [probabilitiesName], labelIndexName, int: ["axis": 1, "keepdims": 0])
    graph.graph.output = [
      valueInfo(probabilitiesName, .float, [nil, classes], "Probability of each class"),
      valueInfo(
        labelIndexName, .int64, [nil],
        "Index of the most likely class in the `labels` metadata entry"),
    ]

    var model = Onnx_ModelProto()
    model.irVersion = irVersion
    var opset = Onnx_OperatorSetIdProto()
    opset.domain = ""
    opset.version = opsetVersion
    model.opsetImport = [opset]
    model.producerName = "dropnet"
    model.producerVersion = metadata.userDefined["dropnet_version"] ?? "unknown"
    model.domain = "dropnet"
    model.modelVersion = Int64(metadata.version)
    model.docString = metadata.shortDescription
    model.graph = graph.graph
    var properties = metadata.userDefined
    properties[labelsKey] = try labelsJSON(network.labels)
    properties[preprocessingKey] = preprocessing
    properties["author"] = metadata.author
    properties["license"] = metadata.license
    properties["weight_precision"] = metadata.weightPrecision
    model.metadataProps = properties.sorted { $0.key < $1.key }.map { key, value in
      var entry = Onnx_StringStringEntryProto()
      entry.key = key
      entry.value = value
      return entry
    }
    return model
  }

  /// The labels as a JSON array of strings.
  static func labelsJSON(_ labels: [String]) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return String(decoding: try encoder.encode(labels), as: UTF8.self)
  }

  private static let floatType = Int64(Onnx_TensorProto.DataType.float.rawValue)

  /// A typed graph input or output; nil dimensions are the batch.
  private static func valueInfo(
    _ name: String, _ type: Onnx_TensorProto.DataType, _ dimensions: [Int64?], _ text: String
  ) -> Onnx_ValueInfoProto {
    var tensor = Onnx_TypeProto.Tensor()
    tensor.elemType = Int32(type.rawValue)
    tensor.shape.dim = dimensions.map { size in
      var dimension = Onnx_TensorShapeProto.Dimension()
      if let size {
        dimension.dimValue = size
      } else {
        dimension.dimParam = batchDimension
      }
      return dimension
    }
    var info = Onnx_ValueInfoProto()
    info.name = name
    info.type.tensorType = tensor
    info.docString = text
    return info
  }
}
