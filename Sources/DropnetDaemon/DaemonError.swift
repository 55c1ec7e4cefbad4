/// An error of the daemon: what happened and what to do about it.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
  /// What went wrong; extensible.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The configuration file cannot be read or parsed.
    public static let unreadableConfiguration = Code("unreadable_configuration")
    /// A configuration key has a wrong type or value, or is unknown.
    public static let invalidConfiguration = Code("invalid_configuration")
    /// Another daemon uses the state folder.
    public static let alreadyRunning = Code("already_running")
    /// No daemon runs on the state folder.
    public static let notRunning = Code("not_running")
    /// A folder is missing or cannot be written.
    public static let folder = Code("folder")
    /// The model could not be published (e.g. the output disk is full).
    public static let publishFailed = Code("publish_failed")
    /// Training could not run.
    public static let trainingFailed = Code("training_failed")
    /// The ImageNet base weights are missing or unreadable.
    public static let missingWeights = Code("missing_weights")
  }

  public var code: Code
  /// The configuration key involved (e.g. `training.batch_size`), when there is one.
  public var key: String?
  /// What happened and what to do about it.
  public var message: String

  public init(_ code: Code, key: String? = nil, _ message: String) {
    self.code = code
    self.key = key
    self.message = message
  }

  public var description: String {
    if let key { return "\(key): \(message)" }
    return message
  }
}
