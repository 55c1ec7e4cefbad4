import DropnetArchitecture
import DropnetExport
import DropnetModel
import Foundation
import SwiftProtobuf

@testable import DropnetCoreML

/// An exported `.mlmodel` read back for tests: its description, preprocessing, labels and
/// layers, and the MobileNet v1 weights it holds in the engine's TF-slim form, so the file can
/// be run on Linux and compared with the checkpoint it came from. The file is parsed and its
/// layers checked once, when it is read.
public struct CoreMLClassifierFile: Sendable {
  /// The model's metadata block.
  public struct Metadata: Sendable, Equatable {
    /// One line saying what the model is.
    public var shortDescription: String
    /// The export version ("1", "2", ...).
    public var versionString: String
    /// Who made the model.
    public var author: String
    /// The model's licence.
    public var license: String
    /// Provenance and training facts (see `CoreMLExporter`).
    public var userDefined: [String: String]
  }

  /// One layer: its name, kind, wiring and parameter count.
  public struct LayerSummary: Sendable, Equatable {
    /// The layer's name.
    public var name: String
    /// "convolution", "unary", "pooling", "innerProduct", "activation", "softmax", or "other".
    public var kind: String
    /// Blobs the layer reads.
    public var inputs: [String]
    /// Blobs the layer writes.
    public var outputs: [String]
    /// Weights plus biases stored in the layer.
    public var parameterCount: Int
  }

  /// Declared CoreML specification version.
  public var specificationVersion: Int
  /// Whether the model declares itself updatable.
  public var isUpdatable: Bool
  /// The image input's name.
  public var inputName: String
  /// The image input's width in pixels.
  public var imageWidth: Int
  /// The image input's height in pixels.
  public var imageHeight: Int
  /// Whether the image input is RGB (rather than BGR or grayscale).
  public var isRGB: Bool
  /// The classifier's image preprocessing: value * channelScale + per-channel bias.
  public var channelScale: Float
  /// Added to the red channel after scaling.
  public var redBias: Float
  /// Added to the green channel after scaling.
  public var greenBias: Float
  /// Added to the blue channel after scaling.
  public var blueBias: Float
  /// Class labels in output order.
  public var classLabels: [String]
  /// Output feature names.
  public var outputNames: [String]
  /// The short description of each input and output feature, by name (what Xcode shows).
  public var featureDescriptions: [String: String]
  /// The output holding the predicted label.
  public var predictedFeatureName: String
  /// The output holding the per-class probabilities.
  public var predictedProbabilitiesName: String
  /// The metadata.
  public var metadata: Metadata
  /// Every layer in order.
  public var layers: [LayerSummary]

  private let file: String
  /// The engine's tensors (see `mobileNetWeights`) and the head, parsed when read.
  private let parsed: (tensors: [String: HostTensor], head: [ClassifierHead.Layer])

  /// Reads and parses the `.mlmodel` at `url`.
  public init(contentsOf url: URL) throws {
    let bytes: Data
    do {
      bytes = try Data(contentsOf: url)
    } catch {
      throw ExportError(
        code: .notAModel, file: url.path,
        message: "cannot read the model (\(error.localizedDescription)); check the path")
    }
    try self.init(serialized: bytes, file: url.path)
  }

  /// Parses `.mlmodel` bytes; `file` names them in errors.
  public init(serialized bytes: Data, file: String) throws {
    self.file = file
    let model: CoreML_Specification_Model
    do {
      model = try CoreML_Specification_Model(serializedBytes: bytes)
    } catch {
      throw ExportError(
        code: .notAModel, file: file,
        message: "not a CoreML protobuf model (\(error)); pass an .mlmodel file")
    }
    guard case .neuralNetworkClassifier(let classifier) = model.type else {
      throw ExportError(
        code: .notAModel, file: file,
        message: "the model is not a NeuralNetworkClassifier; only dropnet exports are read")
    }
    let description = model.description_p
    guard description.input.count == 1, case .imageType(let image) = description.input[0].type.type,
      let preprocessing = classifier.preprocessing.first,
      case .scaler(let scaler) = preprocessing.preprocessor,
      case .stringClassLabels(let labels) = classifier.classLabels
    else {
      throw ExportError(
        code: .notAModel, file: file,
        message: "expected one image input with an image scaler and string class labels, as "
          + "dropnet writes")
    }
    specificationVersion = Int(model.specificationVersion)
    isUpdatable = model.isUpdatable
    inputName = description.input[0].name
    imageWidth = Int(image.width)
    imageHeight = Int(image.height)
    isRGB = image.colorSpace == .rgb
    channelScale = scaler.channelScale
    redBias = scaler.redBias
    greenBias = scaler.greenBias
    blueBias = scaler.blueBias
    classLabels = labels.vector
    outputNames = description.output.map(\.name)
    featureDescriptions = Dictionary(
      (description.input + description.output).map { ($0.name, $0.shortDescription) },
      uniquingKeysWith: { first, _ in first })
    predictedFeatureName = description.predictedFeatureName
    predictedProbabilitiesName = description.predictedProbabilitiesName
    let meta = description.metadata
    metadata = Metadata(
      shortDescription: meta.shortDescription, versionString: meta.versionString,
      author: meta.author, license: meta.license, userDefined: meta.userDefined)
    layers = classifier.layers.map { layer in
      let (kind, count): (String, Int) =
        switch layer.layer {
        case .convolution(let p): ("convolution", Self.count(p.weights) + Self.count(p.bias))
        case .innerProduct(let p): ("innerProduct", Self.count(p.weights) + Self.count(p.bias))
        case .unary: ("unary", 0)
        case .pooling: ("pooling", 0)
        case .activation: ("activation", 0)
        case .softmax: ("softmax", 0)
        case nil: ("other", 0)
        }
      return LayerSummary(
        name: layer.name, kind: kind, inputs: layer.input, outputs: layer.output,
        parameterCount: count)
    }
    parsed = try Self.parse(
      classifier.layers, inputName: inputName, imageSize: imageWidth, labels: classLabels,
      probabilitiesName: predictedProbabilitiesName, file: file)
  }

  /// Model input for packed RGB images of the model's size, prepared the way CoreML does with
  /// this file's scaler (value * channelScale + bias): [N, H, W, 3] NHWC, as the engine takes.
  public func input(fromRGB images: [[UInt8]]) throws -> HostTensor {
    let pixelCount = imageWidth * imageHeight
    var values = [Float](repeating: 0, count: images.count * pixelCount * 3)
    let biases = [redBias, greenBias, blueBias]
    for (imageIndex, pixels) in images.enumerated() {
      guard pixels.count == pixelCount * 3 else {
        throw ExportError(
          code: .invalidImage, file: file,
          message: "an image has \(pixels.count) bytes; the model takes \(imageWidth)x"
            + "\(imageHeight) RGB (\(pixelCount * 3) bytes)")
      }
      for index in 0..<(pixelCount * 3) {
        values[imageIndex * pixelCount * 3 + index] =
          Float(pixels[index]) * channelScale + biases[index % 3]
      }
    }
    return HostTensor(shape: [images.count, imageHeight, imageWidth, 3], values: values)
  }

  /// The network's weights as a TF-slim checkpoint the engine's `MobileNetV1` runs: each
  /// convolution's folded weights and bias with an identity batch norm (gamma 1, beta = bias,
  /// mean 0, variance 1 - epsilon, so the engine's own folding gives back the same numbers),
  /// and the head's first inner product as the 1x1 logits convolution (build the engine with
  /// `classCount` = that layer's width, `engineClassCount`). For an ImageNet-style head (one
  /// inner product) the engine's probabilities are the model's; a trained head has more
  /// layers: run the engine's pooled `features` through `probabilities(features:)`.
  ///
  /// Checks that the layers are exactly dropnet's MobileNet v1 pattern (wiring, strides,
  /// TF 'SAME' padding, ReLU6 thresholds, inner products and ReLUs, softmax) and throws
  /// `unexpectedLayer` otherwise.
  public func mobileNetWeights() throws -> [String: HostTensor] {
    parsed.tensors
  }

  /// The layers after global average pooling, as stored (inner products in CoreML's
  /// [outputs, inputs] layout, ReLUs), without the final softmax.
  public func classifierHead() throws -> [ClassifierHead.Layer] {
    parsed.head
  }

  /// Output width of the head's first inner product: the `classCount` to build the engine's
  /// `MobileNetV1` with from `mobileNetWeights()`.
  public func engineClassCount() throws -> Int {
    for layer in parsed.head {
      if case .innerProduct(let product) = layer { return product.outputCount }
    }
    throw Self.unexpected("the model has no inner product after pooling", file: file)
  }

  /// Class probabilities [N, classLabels.count] (row-major) of pooled features
  /// [N, 1024]: the file's head layers (inner products, ReLUs) in Double, then softmax.
  public func probabilities(features: [Float]) throws -> [Double] {
    let head = parsed.head
    let featureCount = MobileNetV1Architecture.featureCount
    let count = features.count / featureCount
    guard count * featureCount == features.count else {
      throw Self.unexpected(
        "features must be [N, \(featureCount)], got \(features.count) values", file: file)
    }
    var values = features.map(Double.init)
    var width = featureCount
    for layer in head {
      switch layer {
      case .innerProduct(let product):
        // y [N, out] = x [N, in] * W^T + b, W row-major [out, in]
        var output = [Double](repeating: 0, count: count * product.outputCount)
        for row in 0..<count {
          for unit in 0..<product.outputCount {
            var sum = Double(product.bias[unit])
            let weights = unit * product.inputCount
            for input in 0..<product.inputCount {
              sum += Double(product.weights[weights + input]) * values[row * width + input]
            }
            output[row * product.outputCount + unit] = sum
          }
        }
        values = output
        width = product.outputCount
      case .relu:
        values = values.map { max(0, $0) }
      case .batchNorm, .dropout:
        throw Self.unexpected("a stored head holds only inner products and ReLUs", file: file)
      }
    }
    // Softmax per row, shifted by the row maximum so exp cannot overflow.
    for row in 0..<count {
      let slice = (row * width)..<((row + 1) * width)
      let largest = values[slice].max() ?? 0
      var sum = 0.0
      for index in slice {
        values[index] = exp(values[index] - largest)
        sum += values[index]
      }
      for index in slice { values[index] /= sum }
    }
    return values
  }

  /// The engine's tensors and the head layers of `layers`, checked against dropnet's pattern.
  private static func parse(
    _ layers: [CoreML_Specification_NeuralNetworkLayer], inputName: String, imageSize: Int,
    labels classLabels: [String], probabilitiesName predictedProbabilitiesName: String,
    file: String
  ) throws -> (tensors: [String: HostTensor], head: [ClassifierHead.Layer]) {
    func unexpected(_ what: String) -> ExportError { Self.unexpected(what, file: file) }
    func values(_ params: CoreML_Specification_WeightParams, count: Int, _ layer: String) throws
      -> [Float]
    {
      try Self.values(params, count: count, layer, file: file)
    }
    var tensors: [String: HostTensor] = [:]
    var remaining = layers[...]
    var blob = inputName
    var size = imageSize
    let epsilon = Float(MobileNetV1Architecture.batchNormEpsilon)

    func next(_ expected: String) throws -> CoreML_Specification_NeuralNetworkLayer {
      guard let layer = remaining.popFirst() else {
        throw unexpected("the model ends where \(expected) should follow")
      }
      guard layer.input == [blob], layer.output.count == 1 else {
        throw unexpected("layer \(layer.name) reads \(layer.input), expected [\(blob)]")
      }
      blob = layer.output[0]
      return layer
    }

    for convolution in MobileNetV1Architecture.layers {
      let layer = try next(convolution.shortName)
      guard case .convolution(let params) = layer.layer, layer.name == convolution.shortName
      else {
        throw unexpected("layer \(layer.name) should be the convolution \(convolution.shortName)")
      }
      let kernelSize = convolution.kernelSize
      let (before, after) = MobileNetV1Architecture.samePadding(
        inputSize: size, kernelSize: kernelSize, stride: convolution.stride)
      let expectedEdges = [[UInt64(before), UInt64(after)], [UInt64(before), UInt64(after)]]
      let edges = params.valid.paddingAmounts.borderAmounts.map {
        [$0.startEdgeSize, $0.endEdgeSize]
      }
      guard params.kernelSize == [UInt64(kernelSize), UInt64(kernelSize)],
        params.stride == [UInt64(convolution.stride), UInt64(convolution.stride)],
        params.dilationFactor.allSatisfy({ $0 == 1 }), !params.isDeconvolution, params.hasBias_p,
        case .valid = params.convolutionPaddingType, edges == expectedEdges,
        Int(params.outputChannels) == convolution.outputChannels,
        Int(params.kernelChannels) == convolution.kernelChannels,
        Int(params.nGroups) == convolution.groups
      else {
        throw unexpected(
          "convolution \(layer.name): kernel \(params.kernelSize), stride \(params.stride), "
            + "groups \(params.nGroups), padding \(edges); expected stride \(convolution.stride), "
            + "TF SAME padding \(expectedEdges)")
      }
      let outputChannels = convolution.outputChannels
      let weights = try values(
        params.weights, count: convolution.outputMajorDimensions.reduce(1, *), layer.name)
      let bias = try values(params.bias, count: outputChannels, layer.name)
      tensors[convolution.weightsName] = HostTensor(
        shape: convolution.weightsShape,
        values: convolution.tensorFlowWeights(outputMajor: weights))
      let channels = [outputChannels]
      tensors[convolution.gammaName] = HostTensor(
        shape: channels, values: [Float](repeating: 1, count: outputChannels))
      tensors[convolution.betaName] = HostTensor(shape: channels, values: bias)
      tensors[convolution.meanName] = HostTensor(
        shape: channels, values: [Float](repeating: 0, count: outputChannels))
      tensors[convolution.varianceName] = HostTensor(
        shape: channels, values: [Float](repeating: 1 - epsilon, count: outputChannels))
      size = convolution.outputSize(inputSize: size)

      for alpha: Float in [-6, 0] {
        let relu = try next("ReLU6 of \(convolution.shortName)")
        guard case .unary(let unary) = relu.layer, unary.type == .threshold, unary.alpha == alpha,
          unary.scale == -1, unary.shift == 0
        else {
          throw unexpected(
            "layer \(relu.name) should be a THRESHOLD unary (scale -1, alpha \(alpha)), half "
              + "of ReLU6")
        }
      }
    }

    let pooling = try next("global average pooling")
    guard case .pooling(let pool) = pooling.layer, pool.type == .average, pool.globalPooling else {
      throw unexpected("layer \(pooling.name) should be global average pooling")
    }
    // The head: inner products and ReLUs until the softmax, widths chained from the features.
    var head: [ClassifierHead.Layer] = []
    var width = MobileNetV1Architecture.featureCount
    while true {
      let layer = try next("the head's layers and a softmax")
      switch layer.layer {
      case .innerProduct(let product):
        guard product.hasBias_p, Int(product.inputChannels) == width else {
          throw unexpected(
            "inner product \(layer.name) takes \(product.inputChannels) inputs (bias "
              + "\(product.hasBias_p)); the layer before it gives \(width)")
        }
        let outputCount = Int(product.outputChannels)
        head.append(
          .innerProduct(
            ClassifierHead.InnerProduct(
              weights: try values(product.weights, count: width * outputCount, layer.name),
              bias: try values(product.bias, count: outputCount, layer.name),
              inputCount: width, outputCount: outputCount)))
        width = outputCount
      case .activation(let activation):
        guard case .reLu? = activation.nonlinearityType else {
          throw unexpected("activation \(layer.name) should be a ReLU")
        }
        head.append(.relu)
      case .softmax:
        guard blob == predictedProbabilitiesName, remaining.isEmpty, width == classLabels.count,
          case .innerProduct(let first) = head.first
        else {
          throw unexpected(
            "the model should end with a softmax writing \(predictedProbabilitiesName) over "
              + "\(classLabels.count) classes, after at least one inner product")
        }
        // The engine's logits convolution: TF [1, 1, in, out] from CoreML [out, in].
        var tfWeights = [Float](repeating: 0, count: first.weights.count)
        for output in 0..<first.outputCount {
          for input in 0..<first.inputCount {
            tfWeights[input * first.outputCount + output] =
              first.weights[output * first.inputCount + input]
          }
        }
        tensors[MobileNetV1Architecture.logitsWeightsName] = HostTensor(
          shape: [1, 1, first.inputCount, first.outputCount], values: tfWeights)
        tensors[MobileNetV1Architecture.logitsBiasesName] = HostTensor(
          shape: [first.outputCount], values: first.bias)
        return (tensors, head)
      default:
        throw unexpected(
          "layer \(layer.name) should be an inner product, a ReLU or the final softmax")
      }
    }
  }

  private static func count(_ params: CoreML_Specification_WeightParams) -> Int {
    params.floatValue.isEmpty ? params.float16Value.count / 2 : params.floatValue.count
  }

  /// A layer's float32 or float16 weights as Float, checking their count.
  private static func values(
    _ params: CoreML_Specification_WeightParams, count: Int, _ layer: String, file: String
  ) throws -> [Float] {
    let values =
      params.floatValue.isEmpty ? WeightBytes.float16Values(params.float16Value) : params.floatValue
    guard values.count == count else {
      throw unexpected(
        "layer \(layer) holds \(values.count) weights, its shape needs \(count)", file: file)
    }
    return values
  }

  private static func unexpected(_ what: String, file: String) -> ExportError {
    ExportError(
      code: .unexpectedLayer, file: file,
      message: what + "; this reader only runs MobileNet v1 classifiers exported by dropnet")
  }
}
