/// A tensor held in ordinary host memory: dimension sizes plus row-major float values.
/// This is how weights, inputs and outputs move between the engine and the rest of dropnet.
public struct HostTensor: Sendable, Equatable {
  /// Dimension sizes, outermost first (for example [N, 224, 224, 3] for NHWC images).
  public var shape: [Int]
  /// Row-major values; there are exactly `shape.reduce(1, *)` of them.
  public var values: [Float]

  /// Creates a tensor. `values.count` must equal the product of `shape`: callers that read
  /// untrusted files check this first and report an error instead.
  public init(shape: [Int], values: [Float]) {
    precondition(
      shape.reduce(1, *) == values.count,
      "HostTensor shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
    self.shape = shape
    self.values = values
  }
}
