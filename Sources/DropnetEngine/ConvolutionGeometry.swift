/// The sizes of one 2-D convolution over an NCHW batch (square kernel, equal strides).
public struct ConvolutionGeometry: Sendable, Equatable {
  /// Images per batch (fixed when the primitive is created).
  public var batchSize: Int
  public var inputChannels: Int
  public var outputChannels: Int
  public var inputHeight: Int
  public var inputWidth: Int
  public var kernelSize: Int
  public var stride: Int
  /// Channel groups: 1 for a standard convolution, `inputChannels` for a depthwise one.
  public var groups: Int
  public var padding: Padding

  /// Creates a geometry; `padding` defaults to TensorFlow 'SAME'.
  public init(
    batchSize: Int, inputChannels: Int, outputChannels: Int, inputHeight: Int, inputWidth: Int,
    kernelSize: Int, stride: Int, groups: Int = 1, padding: Padding? = nil
  ) {
    self.batchSize = batchSize
    self.inputChannels = inputChannels
    self.outputChannels = outputChannels
    self.inputHeight = inputHeight
    self.inputWidth = inputWidth
    self.kernelSize = kernelSize
    self.stride = stride
    self.groups = groups
    self.padding =
      padding
      ?? .tensorFlowSame(
        inputHeight: inputHeight, inputWidth: inputWidth, kernelSize: kernelSize, stride: stride)
  }

  public var outputHeight: Int {
    (inputHeight + padding.before[0] + padding.after[0] - kernelSize) / stride + 1
  }
  public var outputWidth: Int {
    (inputWidth + padding.before[1] + padding.after[1] - kernelSize) / stride + 1
  }

  /// oneDNN logical source dims: [N, C, H, W].
  public var sourceDimensions: [Int] { [batchSize, inputChannels, inputHeight, inputWidth] }
  /// oneDNN logical destination dims: [N, O, OH, OW].
  public var destinationDimensions: [Int] {
    [batchSize, outputChannels, outputHeight, outputWidth]
  }
  /// oneDNN logical weight dims: [O, I, KH, KW], or [G, O/G, I/G, KH, KW] when grouped.
  public var weightsDimensions: [Int] {
    groups == 1
      ? [outputChannels, inputChannels, kernelSize, kernelSize]
      : [groups, outputChannels / groups, inputChannels / groups, kernelSize, kernelSize]
  }

  /// Multiply-adds of one forward pass over the whole batch.
  public var multiplyAddCount: Int {
    batchSize * outputChannels * outputHeight * outputWidth * (inputChannels / groups) * kernelSize
      * kernelSize
  }

  func validate(layer: String) throws {
    let positive = [
      batchSize, inputChannels, outputChannels, inputHeight, inputWidth, kernelSize, stride, groups,
    ]
    guard positive.allSatisfy({ $0 > 0 }), inputChannels % groups == 0,
      outputChannels % groups == 0, padding.before.count == 2, padding.after.count == 2,
      outputHeight > 0, outputWidth > 0
    else {
      throw EngineError(
        code: .invalidConfiguration, layer: layer,
        message: "convolution geometry \(self) is inconsistent: sizes must be positive and "
          + "channels divisible by groups")
    }
  }
}
