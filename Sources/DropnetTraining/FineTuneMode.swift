import DropnetEngine

/// What trains (`dropnet train --fine-tune`): the head always; of the MobileNet base, nothing,
/// every batch norm's gamma and beta, or also the convolution weights of the last K
/// depthwise/pointwise blocks, or everything.
public enum FineTuneMode: Sendable, Hashable, CustomStringConvertible, Codable {
  /// Base frozen (batch norms in inference mode): the head trains on cached features.
  case head
  /// Every batch norm's gamma and beta, in batch-statistics mode.
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

  /// Encoded as its spelling (`description`).
  public init(from decoder: Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let mode = FineTuneMode(text) else {
      throw DecodingError.dataCorrupted(
        DecodingError.Context(
          codingPath: decoder.codingPath,
          debugDescription: "\(text) is not head, bn, top:K (K 1-13) or all"))
    }
    self = mode
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
