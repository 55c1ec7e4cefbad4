/// An error from exporting a checkpoint or reading an exported model back: what happened, the
/// file involved and what to do.
public struct ExportError: Error, Sendable, CustomStringConvertible {
  /// What kind of failure this is; extensible, compare with the static members.
  public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The checkpoint file does not exist or cannot be read.
    public static let checkpointUnreadable = Code(rawValue: "checkpointUnreadable")
    /// The checkpoint has no class labels, or not one per output class.
    public static let missingLabels = Code(rawValue: "missingLabels")
    /// The checkpoint is not a MobileNet v1 1.0/224 this exporter knows (architecture, tensors).
    public static let unsupportedCheckpoint = Code(rawValue: "unsupportedCheckpoint")
    /// The classifier head description is inconsistent (sizes, a batch norm with nothing to
    /// fold into).
    public static let invalidHead = Code(rawValue: "invalidHead")
    /// The export name cannot be used as a file name.
    public static let invalidName = Code(rawValue: "invalidName")
    /// A format name is not one dropnet writes, or no format was named.
    public static let unknownFormat = Code(rawValue: "unknownFormat")
    /// The output folder cannot be created or written.
    public static let outputNotWritable = Code(rawValue: "outputNotWritable")
    /// The file is not a model of the format the reader expected.
    public static let notAModel = Code(rawValue: "notAModel")
    /// The model's layers are not the MobileNet v1 network dropnet writes.
    public static let unexpectedLayer = Code(rawValue: "unexpectedLayer")
    /// Image bytes given to a reader do not match the model's input size.
    public static let invalidImage = Code(rawValue: "invalidImage")
  }

  /// What kind of failure.
  public var code: Code
  /// The file or folder involved, if any (a path as given by the caller).
  public var file: String?
  /// What happened and what to do.
  public var message: String

  /// Creates an error.
  public init(code: Code, file: String? = nil, message: String) {
    self.code = code
    self.file = file
    self.message = message
  }

  public var description: String {
    var text = "ExportError.\(code)"
    if let file { text += " [\(file)]" }
    return text + ": " + message
  }
}
