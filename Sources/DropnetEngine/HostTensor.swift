/// Plain host data in row-major order: the currency between the engine and the rest of the package.
public struct HostTensor: Sendable, Equatable {
  /// Dimension sizes, outermost first.
  public var shape: [Int]
  /// The values in row-major order; `values.count` is the product of `shape`.
  public var values: [Float]

  /// Creates a tensor; `values.count` must equal the product of `shape`.
  public init(shape: [Int], values: [Float]) {
    precondition(
      shape.reduce(1, *) == values.count,
      "HostTensor: shape \(shape) holds \(shape.reduce(1, *)) values, got \(values.count)")
    self.shape = shape
    self.values = values
  }
}
