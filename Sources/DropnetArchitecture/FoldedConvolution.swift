/// A convolution of `MobileNetV1Architecture` with its inference batch norm folded in:
///
///     BN(conv(x, W)) = scale * (conv(x, W) - mean) + beta, scale = gamma / sqrt(variance + eps)
///                    = conv(x, W * scale[o]) + (beta - mean * scale)
///
/// so each output channel's weights are multiplied by scale[o] and the bias is the rest
/// (computed in Double, stored as Float). What the engine runs at inference and what every
/// exported format writes.
public struct FoldedConvolution: Sendable {
  /// The layer folded.
  public var layer: MobileNetV1Architecture.Layer
  /// Folded weights in output-major order (`layer.outputMajorDimensions`).
  public var weights: [Float]
  /// [outputChannels]
  public var bias: [Float]

  /// Folds `layer`'s TF-layout weights and batch-norm statistics from `tensors` (a missing
  /// gamma is 1, as frozen graphs may drop it). The tensors must have the table's shapes.
  public init(
    layer: MobileNetV1Architecture.Layer, tensors: [String: HostTensor],
    epsilon: Double = MobileNetV1Architecture.batchNormEpsilon
  ) {
    let channels = layer.outputChannels
    let fold = BatchNormFold(
      gamma: tensors[layer.gammaName]?.values ?? [Float](repeating: 1, count: channels),
      beta: tensors[layer.betaName]!.values, mean: tensors[layer.meanName]!.values,
      variance: tensors[layer.varianceName]!.values, epsilon: epsilon)
    let source = tensors[layer.weightsName]!.values
    // Each output channel's weights are contiguous in output-major order.
    let perChannel = source.count / channels
    var folded = [Float](repeating: 0, count: source.count)
    layer.forEachWeightIndex { index, tfIndex in
      folded[index] = Float(Double(source[tfIndex]) * fold.scale[index / perChannel])
    }
    self.layer = layer
    weights = folded
    bias = fold.shift.map { Float($0) }
  }
}

/// Inference batch normalization as a per-channel affine map, in Double:
/// gamma (x - mean) / sqrt(variance + epsilon) + beta = scale x + shift.
public struct BatchNormFold: Sendable, Equatable {
  public var scale: [Double]
  public var shift: [Double]

  public init(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Double) {
    let scale = zip(gamma, variance).map { Double($0) / (Double($1) + epsilon).squareRoot() }
    self.scale = scale
    shift = (0..<beta.count).map { Double(beta[$0]) - Double(mean[$0]) * scale[$0] }
  }
}
