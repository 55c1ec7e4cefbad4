import DropnetArchitecture

/// The layers after MobileNet's pooled 1024 features, as they were trained, before export
/// folds them for inference.
///
/// The ImageNet checkpoint's head is one inner product (the 1x1 logits convolution, 1024 ->
/// 1001). A fine-tuned head (Dense 256, ReLU, BatchNorm, Dropout, Dense classes) is described
/// the same way, layer by layer; `folded()` removes dropout and folds each batch norm into an
/// adjacent inner product, so CoreML sees only inner products and ReLUs.
public struct ClassifierHead: Sendable, Equatable {
  /// The variance epsilon of the trained head's batch norm (Keras' default).
  public static let batchNormEpsilon = 0.001

  /// A fully connected layer: `outputs = weights x inputs + bias`.
  public struct InnerProduct: Sendable, Equatable {
    /// Row-major [outputCount, inputCount] (CoreML's layout; TF's Dense kernel transposed).
    public var weights: [Float]
    /// [outputCount]
    public var bias: [Float]
    /// Input width.
    public var inputCount: Int
    /// Output width.
    public var outputCount: Int

    /// Creates an inner product; `weights` is row-major [outputCount, inputCount].
    public init(weights: [Float], bias: [Float], inputCount: Int, outputCount: Int) {
      self.weights = weights
      self.bias = bias
      self.inputCount = inputCount
      self.outputCount = outputCount
    }

    /// Creates an inner product from TF's input-major layout: `inputMajorWeights` is
    /// row-major [inputCount, outputCount] (a Dense kernel, or a 1x1 convolution's [1, 1, in,
    /// out]), transposed here to CoreML's [outputCount, inputCount].
    public init(inputMajorWeights: [Float], bias: [Float], inputCount: Int, outputCount: Int) {
      var transposed = [Float](repeating: 0, count: inputCount * outputCount)
      for input in 0..<inputCount {
        for output in 0..<outputCount {
          transposed[output * inputCount + input] = inputMajorWeights[input * outputCount + output]
        }
      }
      self.init(weights: transposed, bias: bias, inputCount: inputCount, outputCount: outputCount)
    }
  }

  /// Inference batch normalization: `gamma * (x - mean) / sqrt(variance + epsilon) + beta`.
  public struct BatchNorm: Sendable, Equatable {
    /// Learned scale per channel.
    public var gamma: [Float]
    /// Learned shift per channel.
    public var beta: [Float]
    /// Moving mean per channel.
    public var mean: [Float]
    /// Moving variance per channel.
    public var variance: [Float]
    /// Added to the variance.
    public var epsilon: Double

    /// Creates a batch norm from its trained statistics.
    public init(
      gamma: [Float], beta: [Float], mean: [Float], variance: [Float],
      epsilon: Double = ClassifierHead.batchNormEpsilon
    ) {
      self.gamma = gamma
      self.beta = beta
      self.mean = mean
      self.variance = variance
      self.epsilon = epsilon
    }

    /// Per-channel (scale, shift) with `BN(x) = scale * x + shift`, computed in Double.
    var scaleAndShift: (scale: [Double], shift: [Double]) {
      let fold = BatchNormFold(
        gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: epsilon)
      return (fold.scale, fold.shift)
    }
  }

  /// One layer of the head.
  public enum Layer: Sendable, Equatable {
    /// A fully connected layer.
    case innerProduct(InnerProduct)
    /// max(0, x).
    case relu
    /// Inference batch normalization, folded away by `folded(featureCount:)`.
    case batchNorm(BatchNorm)
    /// Identity at inference; kept so a description can list the trained layers as they were.
    case dropout
  }

  /// The layers in order, from the 1024 pooled features to the logits.
  public var layers: [Layer]

  /// Creates a head from its layers.
  public init(layers: [Layer]) {
    self.layers = layers
  }

  /// The head of an ImageNet-layout checkpoint: its 1x1 logits convolution
  /// (`MobilenetV1/Logits/Conv2d_1c_1x1/{weights,biases}`, TF [1, 1, 1024, classes]) as one
  /// inner product.
  public static func logitsConvolution(of checkpoint: Checkpoint) throws -> ClassifierHead {
    let scope = MobileNetV1Architecture.logitsScope
    guard let weights = checkpoint.tensors[MobileNetV1Architecture.logitsWeightsName],
      let biases = checkpoint.tensors[MobileNetV1Architecture.logitsBiasesName]
    else {
      throw ModelError(
        code: .unsupportedCheckpoint,
        message: "the checkpoint has neither a trained head nor \(scope)/weights and /biases; "
          + "use a checkpoint written by `dropnet weights import` or `dropnet train`")
    }
    guard weights.shape.count == 4, weights.shape[0] == 1, weights.shape[1] == 1,
      biases.shape == [weights.shape[3]]
    else {
      throw ModelError(
        code: .unsupportedCheckpoint,
        message: "\(scope) has weights \(weights.shape) and biases \(biases.shape); expected "
          + "[1, 1, features, classes] and [classes]")
    }
    let inputCount = weights.shape[2]
    let outputCount = weights.shape[3]
    return ClassifierHead(layers: [
      .innerProduct(
        InnerProduct(
          inputMajorWeights: weights.values, bias: biases.values, inputCount: inputCount,
          outputCount: outputCount))
    ])
  }

  /// The inference form: dropout removed, each batch norm folded into the inner product
  /// right before it (Dense -> BN) or, failing that, the next one (Dense -> ReLU -> BN ->
  /// Dense). Checks that the widths chain from `featureCount`.
  public func folded(featureCount: Int) throws -> [Layer] {
    var result: [Layer] = []
    var pendingBatchNorm: BatchNorm?
    var width = featureCount
    for layer in layers {
      switch layer {
      case .dropout:
        continue
      case .relu:
        guard pendingBatchNorm == nil else { throw invalid("a ReLU follows a batch norm") }
        result.append(.relu)
      case .batchNorm(let norm):
        guard norm.gamma.count == width, norm.beta.count == width, norm.mean.count == width,
          norm.variance.count == width
        else { throw invalid("a batch norm has not \(width) channels") }
        if case .innerProduct(let previous) = result.last {
          // BN(Wx + b) = (scale * W) x + (scale * b + shift)
          let (scale, shift) = norm.scaleAndShift
          var product = previous
          for output in 0..<product.outputCount {
            for input in 0..<product.inputCount {
              let index = output * product.inputCount + input
              product.weights[index] = Float(Double(product.weights[index]) * scale[output])
            }
            product.bias[output] = Float(
              Double(product.bias[output]) * scale[output] + shift[output])
          }
          result[result.count - 1] = .innerProduct(product)
        } else {
          guard pendingBatchNorm == nil else { throw invalid("two batch norms in a row") }
          pendingBatchNorm = norm
        }
      case .innerProduct(var product):
        guard product.inputCount == width, product.weights.count == width * product.outputCount,
          product.bias.count == product.outputCount
        else {
          throw invalid(
            "an inner product of \(product.inputCount) -> \(product.outputCount) with "
              + "\(product.weights.count) weights and \(product.bias.count) biases follows a "
              + "width of \(width)")
        }
        if let norm = pendingBatchNorm {
          // W (scale * x + shift) + b = (W * scale) x + (W shift + b)
          let (scale, shift) = norm.scaleAndShift
          for output in 0..<product.outputCount {
            var bias = Double(product.bias[output])
            for input in 0..<product.inputCount {
              let index = output * product.inputCount + input
              bias += Double(product.weights[index]) * shift[input]
              product.weights[index] = Float(Double(product.weights[index]) * scale[input])
            }
            product.bias[output] = Float(bias)
          }
          pendingBatchNorm = nil
        }
        result.append(.innerProduct(product))
        width = product.outputCount
      }
    }
    guard pendingBatchNorm == nil else {
      throw invalid("the last batch norm has no inner product to fold into")
    }
    guard case .innerProduct = result.last else {
      throw invalid("the head must end with an inner product (the logits)")
    }
    return result
  }

  /// Output width (the number of classes) of the last inner product, if any.
  public var classCount: Int? {
    for layer in layers.reversed() {
      if case .innerProduct(let product) = layer { return product.outputCount }
    }
    return nil
  }

  private func invalid(_ what: String) -> ModelError {
    ModelError(
      code: .invalidHead,
      message: "classifier head: \(what); describe the head as trained, in order "
        + "(inner product, ReLU, batch norm, dropout, inner product)")
  }
}
