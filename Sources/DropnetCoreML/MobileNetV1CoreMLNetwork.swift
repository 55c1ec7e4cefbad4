import DropnetEngine
import DropnetModel
import Foundation

/// MobileNet v1 as CoreML neural-network layers: the convolutions with batch norm folded in,
/// ReLU6, global average pooling and the folded classifier head, ending in a softmax whose
/// output blob is the classifier's probabilities.
///
/// Layer pattern, per convolution `C` (TF-slim scope name without "MobilenetV1/"):
///   C                convolution, bias = folded BN, explicit TF 'SAME' padding
///   C/relu6_min      unary THRESHOLD, scale -1, alpha -6:  y = max(-6, -x) = -min(x, 6)
///   C/relu6          unary THRESHOLD, scale -1, alpha 0:   y = max(0, min(x, 6)) = ReLU6(x)
/// Two version-1 layers instead of `clip` (version 4) keep the model at iOS 11.
enum MobileNetV1CoreMLNetwork {
  /// The input feature and first blob.
  static let inputName = "image"
  /// The softmax output blob; also the classifier's probability output feature.
  static let probabilitiesName = "classLabelProbs"
  /// The predicted label output feature.
  static let labelName = "classLabel"
  /// Layer and blob names of pooling, the head's inner products and softmax.
  static let poolingName = "AvgPool_1a"
  static let softmaxName = "Predictions"
  static func headLayerName(_ index: Int) -> String { "Logits_\(index)" }
  static let reluSuffix = "/relu6"
  static let reluMinimumSuffix = "/relu6_min"

  /// One convolution of the body.
  struct Convolution {
    enum Kind { case standard, depthwise, pointwise }
    /// Scope without the "MobilenetV1/" prefix, e.g. "Conv2d_3_pointwise".
    var name: String
    var kind: Kind
    var stride: Int
    /// "MobilenetV1/Conv2d_3_pointwise/weights" or ".../depthwise_weights".
    var weightsName: String {
      MobileNetV1Layout.layerName(name) + (kind == .depthwise ? "/depthwise_weights" : "/weights")
    }
    var scope: String { MobileNetV1Layout.layerName(name) }
  }

  /// The 27 convolutions in order (stride 2 at Conv2d_0 and depthwise 2, 4, 6, 12).
  static let convolutions: [Convolution] = {
    var result = [Convolution(name: "Conv2d_0", kind: .standard, stride: 2)]
    for block in 1...13 {
      let stride = [2, 4, 6, 12].contains(block) ? 2 : 1
      result.append(
        Convolution(name: "Conv2d_\(block)_depthwise", kind: .depthwise, stride: stride))
      result.append(Convolution(name: "Conv2d_\(block)_pointwise", kind: .pointwise, stride: 1))
    }
    return result
  }()

  /// TF 'SAME' padding along one axis: (before, after), the extra pixel after (bottom/right).
  static func samePadding(inputSize: Int, kernelSize: Int, stride: Int) -> (Int, Int) {
    let outputSize = (inputSize + stride - 1) / stride
    let total = max((outputSize - 1) * stride + kernelSize - inputSize, 0)
    return (total / 2, total - total / 2)
  }

  /// The layers for `checkpoint`'s body followed by the folded `head`, then softmax.
  static func layers(
    checkpoint: Checkpoint, head: [ClassifierHead.Layer], float16: Bool, updatable: Bool
  ) throws -> [CoreML_Specification_NeuralNetworkLayer] {
    try checkBody(checkpoint)
    var layers: [CoreML_Specification_NeuralNetworkLayer] = []
    var blob = inputName
    var size = MobileNetV1Layout.inputSize
    for convolution in convolutions {
      let weights = checkpoint.tensors[convolution.weightsName]!
      let kernelSize = weights.shape[0]
      let inputChannels = weights.shape[2]
      let outputChannels = convolution.kind == .depthwise ? inputChannels : weights.shape[3]
      let (scale, shift) = foldedBatchNorm(checkpoint, scope: convolution.scope)

      // TF HWIO [kh, kw, in, out] (depthwise [kh, kw, C, 1]) -> CoreML [out, in/groups, kh, kw],
      // each output channel scaled by its batch norm.
      let kernelChannels = convolution.kind == .depthwise ? 1 : inputChannels
      var coreMLWeights = [Float](repeating: 0, count: weights.values.count)
      for output in 0..<outputChannels {
        for input in 0..<kernelChannels {
          for row in 0..<kernelSize {
            for column in 0..<kernelSize {
              let tfIndex =
                convolution.kind == .depthwise
                ? (row * kernelSize + column) * inputChannels + output
                : ((row * kernelSize + column) * inputChannels + input) * outputChannels + output
              let index =
                ((output * kernelChannels + input) * kernelSize + row) * kernelSize + column
              coreMLWeights[index] = Float(Double(weights.values[tfIndex]) * scale[output])
            }
          }
        }
      }

      var params = CoreML_Specification_ConvolutionLayerParams()
      params.outputChannels = UInt64(outputChannels)
      params.kernelChannels = UInt64(kernelChannels)
      params.nGroups = UInt64(convolution.kind == .depthwise ? inputChannels : 1)
      params.kernelSize = [UInt64(kernelSize), UInt64(kernelSize)]
      params.stride = [UInt64(convolution.stride), UInt64(convolution.stride)]
      params.dilationFactor = [1, 1]
      let (before, after) = samePadding(
        inputSize: size, kernelSize: kernelSize, stride: convolution.stride)
      var edges = CoreML_Specification_BorderAmounts.EdgeSizes()
      edges.startEdgeSize = UInt64(before)
      edges.endEdgeSize = UInt64(after)
      var padding = CoreML_Specification_ValidPadding()
      padding.paddingAmounts.borderAmounts = [edges, edges]  // height, width: square input
      params.valid = padding
      params.hasBias_p = true
      params.weights = weightParams(coreMLWeights, float16: float16)
      params.bias = weightParams(shift.map { Float($0) }, float16: float16)
      var layer = CoreML_Specification_NeuralNetworkLayer()
      layer.name = convolution.name
      layer.input = [blob]
      layer.output = [convolution.name]
      layer.convolution = params
      layers.append(layer)
      size = (size + convolution.stride - 1) / convolution.stride

      layers.append(
        threshold(name: convolution.name + reluMinimumSuffix, input: convolution.name, alpha: -6))
      blob = convolution.name + reluSuffix
      layers.append(threshold(name: blob, input: convolution.name + reluMinimumSuffix, alpha: 0))
    }

    var pooling = CoreML_Specification_PoolingLayerParams()
    pooling.type = .average
    pooling.globalPooling = true
    pooling.kernelSize = [UInt64(size), UInt64(size)]
    pooling.stride = [1, 1]
    pooling.valid = CoreML_Specification_ValidPadding()
    layers.append(layer(poolingName, input: blob) { $0.pooling = pooling })
    blob = poolingName

    let lastProduct = head.lastIndex { if case .innerProduct = $0 { true } else { false } }
    for (index, headLayer) in head.enumerated() {
      let name = headLayerName(index)
      switch headLayer {
      case .innerProduct(let product):
        var params = CoreML_Specification_InnerProductLayerParams()
        params.inputChannels = UInt64(product.inputCount)
        params.outputChannels = UInt64(product.outputCount)
        params.hasBias_p = true
        // CoreML trains only float32 weights: an updatable layer stays float32.
        let trainable = updatable && index == lastProduct
        params.weights = weightParams(product.weights, float16: float16 && !trainable)
        params.bias = weightParams(product.bias, float16: float16 && !trainable)
        if trainable {
          params.weights.isUpdatable = true
          params.bias.isUpdatable = true
        }
        var built = layer(name, input: blob) { $0.innerProduct = params }
        built.isUpdatable = trainable
        layers.append(built)
      case .relu:
        var activation = CoreML_Specification_ActivationParams()
        activation.reLu = CoreML_Specification_ActivationReLU()
        layers.append(layer(name, input: blob) { $0.activation = activation })
      case .batchNorm, .dropout:
        throw CoreMLExportError(
          code: .invalidHead, message: "internal: the head was not folded before export")
      }
      blob = name
    }
    var softmax = layer(softmaxName, input: blob) {
      $0.softmax = CoreML_Specification_SoftmaxLayerParams()
    }
    softmax.output = [probabilitiesName]
    layers.append(softmax)
    return layers
  }

  /// Every body tensor present with its `MobileNetV1Layout` shape, or one error listing all.
  static func checkBody(_ checkpoint: Checkpoint) throws {
    let logitsScope = MobileNetV1Layout.layerName("Logits/")
    var problems: [String] = []
    for spec in MobileNetV1Layout.tensors where !spec.name.hasPrefix(logitsScope) {
      guard let tensor = checkpoint.tensors[spec.name] else {
        problems.append("\(spec.name) is missing")
        continue
      }
      if tensor.shape != spec.shape || tensor.values.count != spec.shape.reduce(1, *) {
        problems.append("\(spec.name) is \(tensor.shape), expected \(spec.shape)")
      }
    }
    guard problems.isEmpty else {
      throw CoreMLExportError(
        code: .unsupportedCheckpoint,
        message: "not a MobileNet v1 1.0/224 checkpoint: "
          + problems.prefix(5).joined(separator: "; ")
          + (problems.count > 5 ? " (and \(problems.count - 5) more)" : "")
          + "; export a checkpoint written by dropnet (weights import or train)")
    }
  }

  /// Per-output-channel (scale, shift) of a scope's BatchNorm, in Double:
  /// BN(y) = gamma (y - mean) / sqrt(variance + eps) + beta = scale y + shift.
  static func foldedBatchNorm(_ checkpoint: Checkpoint, scope: String) -> ([Double], [Double]) {
    let norm = ClassifierHead.BatchNorm(
      gamma: checkpoint.tensors["\(scope)/BatchNorm/gamma"]!.values,
      beta: checkpoint.tensors["\(scope)/BatchNorm/beta"]!.values,
      mean: checkpoint.tensors["\(scope)/BatchNorm/moving_mean"]!.values,
      variance: checkpoint.tensors["\(scope)/BatchNorm/moving_variance"]!.values,
      epsilon: MobileNetV1Layout.batchNormEpsilon)
    return norm.scaleAndShift
  }

  static func weightParams(_ values: [Float], float16: Bool) -> CoreML_Specification_WeightParams {
    var params = CoreML_Specification_WeightParams()
    if float16 {
      params.float16Value = HalfPrecision.encode(values)
    } else {
      params.floatValue = values
    }
    return params
  }

  /// y = max(alpha, -x): the two halves of ReLU6 (see the type's comment).
  static func threshold(name: String, input: String, alpha: Float)
    -> CoreML_Specification_NeuralNetworkLayer
  {
    var unary = CoreML_Specification_UnaryFunctionLayerParams()
    unary.type = .threshold
    unary.alpha = alpha
    unary.scale = -1
    return layer(name, input: input) { $0.unary = unary }
  }

  static func layer(
    _ name: String, input: String,
    _ configure: (inout CoreML_Specification_NeuralNetworkLayer) -> Void
  ) -> CoreML_Specification_NeuralNetworkLayer {
    var layer = CoreML_Specification_NeuralNetworkLayer()
    layer.name = name
    layer.input = [input]
    layer.output = [name]
    configure(&layer)
    return layer
  }
}
