/// One convolution of TF-slim MobileNet v1 and the names of its tensors.
struct MobileNetV1Layer: Sendable {
  enum Kind: Sendable {
    /// Conv2d_0: 3x3 over all input channels.
    case standard
    /// Conv2d_K_depthwise: 3x3 per channel (groups = channels).
    case depthwise
    /// Conv2d_K_pointwise: 1x1 over all channels.
    case pointwise
  }

  /// TF-slim scope, e.g. "MobilenetV1/Conv2d_3_pointwise"; also the capture name.
  let name: String
  let kind: Kind
  let inputChannels: Int
  let outputChannels: Int
  let stride: Int

  var kernelSize: Int { kind == .pointwise ? 1 : 3 }
  var groups: Int { kind == .depthwise ? inputChannels : 1 }

  /// Name of the convolution weights tensor.
  var weightsName: String { name + (kind == .depthwise ? "/depthwise_weights" : "/weights") }
  /// TF layout of the weights: HWIO, or H W C multiplier for depthwise.
  var weightsShape: [Int] {
    kind == .depthwise
      ? [kernelSize, kernelSize, inputChannels, 1]
      : [kernelSize, kernelSize, inputChannels, outputChannels]
  }
  var gammaName: String { name + "/BatchNorm/gamma" }
  var betaName: String { name + "/BatchNorm/beta" }
  var meanName: String { name + "/BatchNorm/moving_mean" }
  var varianceName: String { name + "/BatchNorm/moving_variance" }
  var batchNormNames: [String] { [gammaName, betaName, meanName, varianceName] }

  /// oneDNN's plain logical weight dims: [O, I, K, K], or [C, 1, 1, K, K] for depthwise.
  var engineWeightsDimensions: [Int] {
    kind == .depthwise
      ? [inputChannels, 1, 1, kernelSize, kernelSize]
      : [outputChannels, inputChannels, kernelSize, kernelSize]
  }

  /// The flat index in the TF layout (`weightsShape`) of each element of the plain engine
  /// layout (`engineWeightsDimensions`), in engine order: engine[i] = tf[map[i]].
  var engineToTensorFlowIndex: [Int] {
    var map = [Int](repeating: 0, count: weightsShape.reduce(1, *))
    forEachWeightIndex { engineIndex, tfIndex in map[engineIndex] = tfIndex }
    return map
  }

  /// Calls `body(engineIndex, tfIndex)` for every weight in engine order: its flat index in
  /// the plain engine layout (`engineWeightsDimensions`) and in the TF layout (`weightsShape`).
  /// A traversal rather than a map: folding at load time then allocates nothing per weight.
  func forEachWeightIndex(_ body: (_ engineIndex: Int, _ tfIndex: Int) -> Void) {
    let size = kernelSize
    var engineIndex = 0
    switch kind {
    case .depthwise:
      // TF [KH, KW, C, 1] -> oneDNN [G = C, 1, 1, KH, KW].
      for channel in 0..<inputChannels {
        for row in 0..<size {
          for column in 0..<size {
            body(engineIndex, (row * size + column) * inputChannels + channel)
            engineIndex += 1
          }
        }
      }
    case .standard, .pointwise:
      // TF HWIO [KH, KW, I, O] -> oneDNN OIHW [O, I, KH, KW].
      for output in 0..<outputChannels {
        for input in 0..<inputChannels {
          for row in 0..<size {
            for column in 0..<size {
              body(
                engineIndex,
                ((row * size + column) * inputChannels + input) * outputChannels + output)
              engineIndex += 1
            }
          }
        }
      }
    }
  }

  /// The 27 convolutions in order: Conv2d_0, then depthwise/pointwise pairs Conv2d_1...13.
  static let all: [MobileNetV1Layer] = {
    // Pointwise output channels of blocks 1...13 (alpha 1.0) and the blocks whose depthwise
    // convolution has stride 2 (2, 4, 6, 12), from the TF-slim MobileNet v1 definition.
    let pointwiseChannels = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024]
    let stridedBlocks: Set<Int> = [2, 4, 6, 12]
    var layers = [
      MobileNetV1Layer(
        name: "MobilenetV1/Conv2d_0", kind: .standard, inputChannels: 3, outputChannels: 32,
        stride: 2)
    ]
    var channels = 32
    for (offset, outputChannels) in pointwiseChannels.enumerated() {
      let block = offset + 1
      layers.append(
        MobileNetV1Layer(
          name: "MobilenetV1/Conv2d_\(block)_depthwise", kind: .depthwise,
          inputChannels: channels, outputChannels: channels,
          stride: stridedBlocks.contains(block) ? 2 : 1))
      layers.append(
        MobileNetV1Layer(
          name: "MobilenetV1/Conv2d_\(block)_pointwise", kind: .pointwise,
          inputChannels: channels, outputChannels: outputChannels, stride: 1))
      channels = outputChannels
    }
    return layers
  }()
}
