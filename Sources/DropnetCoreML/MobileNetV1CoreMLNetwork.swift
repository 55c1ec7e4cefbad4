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

  /// The layers of `network`: its convolutions, pooling and classifier, then softmax.
  static func layers(network: InferenceNetwork, float16: Bool, updatable: Bool) throws
    -> [CoreML_Specification_NeuralNetworkLayer]
  {
    var layers: [CoreML_Specification_NeuralNetworkLayer] = []
    var blob = inputName
    for (convolution, padding) in zip(network.convolutions, network.paddings) {
      let layer = convolution.layer
      let name = layer.shortName
      // Output-major [out, in/groups, kh, kw] is CoreML's weight layout.
      var params = CoreML_Specification_ConvolutionLayerParams()
      params.outputChannels = UInt64(layer.outputChannels)
      params.kernelChannels = UInt64(layer.kernelChannels)
      params.nGroups = UInt64(layer.groups)
      params.kernelSize = [UInt64(layer.kernelSize), UInt64(layer.kernelSize)]
      params.stride = [UInt64(layer.stride), UInt64(layer.stride)]
      params.dilationFactor = [1, 1]
      var edges = CoreML_Specification_BorderAmounts.EdgeSizes()
      edges.startEdgeSize = UInt64(padding.before)
      edges.endEdgeSize = UInt64(padding.after)
      var valid = CoreML_Specification_ValidPadding()
      valid.paddingAmounts.borderAmounts = [edges, edges]  // height, width: square input
      params.valid = valid
      params.hasBias_p = true
      params.weights = weightParams(convolution.weights, float16: float16)
      params.bias = weightParams(convolution.bias, float16: float16)
      var built = CoreML_Specification_NeuralNetworkLayer()
      built.name = name
      built.input = [blob]
      built.output = [name]
      built.convolution = params
      layers.append(built)

      layers.append(threshold(name: name + reluMinimumSuffix, input: name, alpha: -6))
      blob = name + reluSuffix
      layers.append(threshold(name: blob, input: name + reluMinimumSuffix, alpha: 0))
    }

    let size = network.finalMapSize
    var pooling = CoreML_Specification_PoolingLayerParams()
    pooling.type = .average
    pooling.globalPooling = true
    pooling.kernelSize = [UInt64(size), UInt64(size)]
    pooling.stride = [1, 1]
    pooling.valid = CoreML_Specification_ValidPadding()
    layers.append(layer(poolingName, input: blob) { $0.pooling = pooling })
    blob = poolingName

    let head = network.classifier
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
        throw ModelError(
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

  static func weightParams(_ values: [Float], float16: Bool) -> CoreML_Specification_WeightParams {
    var params = CoreML_Specification_WeightParams()
    if float16 {
      params.float16Value = WeightBytes.float16(values)
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
