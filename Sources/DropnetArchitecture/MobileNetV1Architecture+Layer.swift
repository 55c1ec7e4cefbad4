extension MobileNetV1Architecture {
  /// One convolution of the network, the names of its tensors and its weight layouts.
  public struct Layer: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
      /// Conv2d_0: 3x3 over all input channels.
      case standard
      /// Conv2d_K_depthwise: 3x3 per channel (groups = channels).
      case depthwise
      /// Conv2d_K_pointwise: 1x1 over all channels.
      case pointwise
    }

    /// TF-slim scope, e.g. "MobilenetV1/Conv2d_3_pointwise".
    public let name: String
    public let kind: Kind
    public let inputChannels: Int
    public let outputChannels: Int
    public let stride: Int

    /// A layer; the table (`MobileNetV1Architecture.layers`) is the only source of real ones,
    /// tests make small ones.
    public init(name: String, kind: Kind, inputChannels: Int, outputChannels: Int, stride: Int) {
      self.name = name
      self.kind = kind
      self.inputChannels = inputChannels
      self.outputChannels = outputChannels
      self.stride = stride
    }

    /// The scope without "MobilenetV1/", e.g. "Conv2d_3_pointwise".
    public var shortName: String { String(name.split(separator: "/").last!) }
    public var kernelSize: Int { kind == .pointwise ? 1 : 3 }
    /// Convolution groups: one per channel for depthwise, else 1.
    public var groups: Int { kind == .depthwise ? inputChannels : 1 }
    /// Input channels each output channel sees.
    public var kernelChannels: Int { kind == .depthwise ? 1 : inputChannels }

    /// Name of the convolution weights tensor.
    public var weightsName: String {
      name + (kind == .depthwise ? "/depthwise_weights" : "/weights")
    }
    /// TF layout of the weights: HWIO, or [H, W, C, 1] for depthwise.
    public var weightsShape: [Int] {
      kind == .depthwise
        ? [kernelSize, kernelSize, inputChannels, 1]
        : [kernelSize, kernelSize, inputChannels, outputChannels]
    }
    public var gammaName: String { name + "/BatchNorm/gamma" }
    public var betaName: String { name + "/BatchNorm/beta" }
    public var meanName: String { name + "/BatchNorm/moving_mean" }
    public var varianceName: String { name + "/BatchNorm/moving_variance" }
    /// Gamma, beta, moving mean, moving variance.
    public var batchNormNames: [String] { [gammaName, betaName, meanName, varianceName] }

    /// Output side for an input of side `inputSize` ('SAME' padding).
    public func outputSize(inputSize: Int) -> Int { (inputSize + stride - 1) / stride }

    /// The weights' dimensions in output-major order, [O, I/groups, K, K]: oneDNN's plain
    /// layout (OIHW, and GOIHW with one channel per group for depthwise), CoreML's and ONNX's.
    public var outputMajorDimensions: [Int] {
      [outputChannels, kernelChannels, kernelSize, kernelSize]
    }

    /// Calls `body(outputMajorIndex, tfIndex)` for every weight in output-major order
    /// (`outputMajorDimensions`): its flat index there and in the TF layout. A traversal
    /// rather than a map: folding allocates nothing per weight.
    public func forEachWeightIndex(_ body: (_ outputMajorIndex: Int, _ tfIndex: Int) -> Void) {
      let size = kernelSize
      var index = 0
      for output in 0..<outputChannels {
        for input in 0..<kernelChannels {
          for row in 0..<size {
            for column in 0..<size {
              // TF HWIO [K, K, I, O]; depthwise [K, K, C, 1] where the output is the channel.
              let tfIndex =
                kind == .depthwise
                ? (row * size + column) * inputChannels + output
                : ((row * size + column) * inputChannels + input) * outputChannels + output
              body(index, tfIndex)
              index += 1
            }
          }
        }
      }
    }

    /// TF-layout weights rearranged to output-major order (`outputMajorDimensions`).
    public func outputMajorWeights(_ tfWeights: [Float]) -> [Float] {
      var result = [Float](repeating: 0, count: tfWeights.count)
      forEachWeightIndex { index, tfIndex in result[index] = tfWeights[tfIndex] }
      return result
    }

    /// Output-major weights (`outputMajorDimensions`) back in the TF layout.
    public func tensorFlowWeights(outputMajor weights: [Float]) -> [Float] {
      var result = [Float](repeating: 0, count: weights.count)
      forEachWeightIndex { index, tfIndex in result[tfIndex] = weights[index] }
      return result
    }
  }
}
