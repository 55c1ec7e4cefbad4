/// An error from preparing training data: what happened and what to do about it.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
  /// What went wrong, extensible like swift-log's error codes.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// A class has too few frames (or movies) to appear on both sides of the split.
    public static let tooFewFrames = Code("too_few_frames")
    /// A setting is out of its range.
    public static let invalidSetting = Code("invalid_setting")
    /// A file could not be read or written.
    public static let io = Code("io")
    /// The caller asked training to stop (at a batch boundary); nothing was produced.
    public static let cancelled = Code("cancelled")
  }

  public var code: Code
  /// The file involved, when there is one.
  public var path: String?
  /// What happened and what to do about it.
  public var message: String

  public init(_ code: Code, path: String? = nil, _ message: String) {
    self.code = code
    self.path = path
    self.message = message
  }

  public var description: String {
    if let path { return "\(path): \(message)" }
    return message
  }
}
