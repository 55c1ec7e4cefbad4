import DropnetArchitecture

/// Zero padding before and after each spatial dimension (height, width) of a 2-D window op.
public struct Padding: Sendable, Equatable {
  /// Rows and columns added before the data: [top, left].
  public var before: [Int]
  /// Rows and columns added after the data: [bottom, right].
  public var after: [Int]

  /// Creates a padding from explicit amounts ([height, width] each).
  public init(before: [Int], after: [Int]) {
    self.before = before
    self.after = after
  }

  /// TensorFlow's 'SAME' padding for a square window: output = ceil(input / stride), with the
  /// odd pixel of the total padding going after the data. For stride 2 over an even input this
  /// is 0 before and 1 after, which oneDNN expresses as padding_l != padding_r.
  public static func tensorFlowSame(inputHeight: Int, inputWidth: Int, kernelSize: Int, stride: Int)
    -> Padding
  {
    let (top, bottom) = MobileNetV1Architecture.samePadding(
      inputSize: inputHeight, kernelSize: kernelSize, stride: stride)
    let (left, right) = MobileNetV1Architecture.samePadding(
      inputSize: inputWidth, kernelSize: kernelSize, stride: stride)
    return Padding(before: [top, left], after: [bottom, right])
  }
}
