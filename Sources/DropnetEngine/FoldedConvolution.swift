/// A convolution's weights with inference batch normalization folded in, in oneDNN's plain
/// logical layout (OIHW, or GOIHW for depthwise), ready to reorder into a primitive's layout.
///
/// BN(conv(x, W)) = scale * (conv(x, W) - mean) + beta with scale = gamma / sqrt(variance + eps)
///                = conv(x, W * scale[o]) + (beta - mean * scale)
/// so each output channel's weights are multiplied by scale[o] and the bias is the rest.
struct FoldedConvolution {
  /// Row-major values in `weightsDimensions` order.
  var weights: [Float]
  /// [O, I, K, K] or [G, 1, 1, K, K].
  var weightsDimensions: [Int]
  /// [O]
  var bias: [Float]

  /// Folds a MobileNet layer's TF-layout weights and BatchNorm statistics (gamma defaults to 1).
  init(layer: MobileNetV1Layer, weights: [String: HostTensor], epsilon: Double) {
    let outputChannels = layer.outputChannels
    let source = weights[layer.weightsName]!.values
    let beta = weights[layer.betaName]!.values
    let mean = weights[layer.meanName]!.values
    let variance = weights[layer.varianceName]!.values
    let gamma = weights[layer.gammaName]?.values ?? [Float](repeating: 1, count: outputChannels)
    var scale = [Double](repeating: 0, count: outputChannels)
    var bias = [Float](repeating: 0, count: outputChannels)
    for channel in 0..<outputChannels {
      scale[channel] = Double(gamma[channel]) / (Double(variance[channel]) + epsilon).squareRoot()
      bias[channel] = Float(Double(beta[channel]) - Double(mean[channel]) * scale[channel])
    }
    // Each output channel's weights are contiguous in the engine layout (OIHW, or GOIHW for
    // depthwise with one channel per group): element i belongs to channel i / perChannel.
    let perChannel = source.count / outputChannels
    var folded = [Float](repeating: 0, count: source.count)
    layer.forEachWeightIndex { index, tfIndex in
      folded[index] = Float(Double(source[tfIndex]) * scale[index / perChannel])
    }
    weightsDimensions = layer.engineWeightsDimensions
    self.weights = folded
    self.bias = bias
  }

  /// The logits 1x1 convolution (no BatchNorm): TF [1, 1, F, K] -> oneDNN [K, F, 1, 1].
  init(logitsWeights: HostTensor, biases: HostTensor) {
    let featureCount = logitsWeights.shape[2]
    let classCount = logitsWeights.shape[3]
    var transposed = [Float](repeating: 0, count: logitsWeights.values.count)
    for feature in 0..<featureCount {
      for classIndex in 0..<classCount {
        transposed[classIndex * featureCount + feature] =
          logitsWeights.values[feature * classCount + classIndex]
      }
    }
    weights = transposed
    weightsDimensions = [classCount, featureCount, 1, 1]
    bias = biases.values
  }
}
