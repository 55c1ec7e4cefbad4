import DropnetEngine

/// What trains (`dropnet train --fine-tune`): the head always; of the MobileNet base, nothing,
/// every batch norm's gamma and beta, or also the convolution weights of the last K
/// depthwise/pointwise blocks, or everything.
public enum FineTuneMode: Sendable, Hashable, CustomStringConvertible {
  /// Base frozen (batch norms in inference mode): `HeadTrainer` on cached features.
  case head
  /// Every batch norm's gamma and beta, in batch-statistics mode (seed point 3).
  case batchNorm
  /// Batch norms plus the convolution weights of the last K blocks (1...13).
  case topBlocks(Int)
  /// Every tensor of the base.
  case all

  /// Blocks of MobileNet v1 (depthwise + pointwise pairs after Conv2d_0).
  public static let blockCount = 13

  /// Parses `head`, `bn`, `top:K` (K in 1...13, written plainly) or `all`; nil otherwise.
  /// Only the spelling `description` gives back is accepted: the daemon matches a published
  /// model's mode by its text, so `top:02` must not be a second name for `top:2`.
  public init?(_ text: String) {
    switch text {
    case "head": self = .head
    case "bn": self = .batchNorm
    case "all": self = .all
    default:
      guard text.hasPrefix("top:"), let count = Int(text.dropFirst(4)),
        (1...Self.blockCount).contains(count), text == "top:\(count)"
      else { return nil }
      self = .topBlocks(count)
    }
  }

  /// The spelling `init?(_:)` reads.
  public var description: String {
    switch self {
    case .head: "head"
    case .batchNorm: "bn"
    case .topBlocks(let count): "top:\(count)"
    case .all: "all"
    }
  }

  /// Convolution layers (counted from the top) whose weights train; nil for `head`, where
  /// the base does not run in training mode at all.
  public var trainedConvolutionCount: Int? {
    switch self {
    case .head: nil
    case .batchNorm: 0
    case .topBlocks(let count): 2 * count
    case .all: MobileNetV1Trainable.convolutionCount
    }
  }
}
