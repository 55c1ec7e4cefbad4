import DropnetArchitecture

/// What one MobileNetV1 forward pass returns, per image of the (possibly partial) batch.
public struct MobileNetOutput: Sendable, Equatable {
  /// Global-average-pooled features before the logits layer: [N, 1024].
  public var features: HostTensor
  /// Logits (class scores before softmax): [N, classes].
  public var logits: HostTensor
  /// Softmax of the logits: [N, classes]; class 0 of the ImageNet model is "background".
  public var probabilities: HostTensor
  /// Requested intermediate outputs (post-ReLU6), by TF-slim layer name, NHWC [N, H, W, C].
  public var captured: [String: HostTensor]

  /// Creates an output.
  public init(
    features: HostTensor, logits: HostTensor, probabilities: HostTensor,
    captured: [String: HostTensor]
  ) {
    self.features = features
    self.logits = logits
    self.probabilities = probabilities
    self.captured = captured
  }
}
