/// An error from reading or writing model files: which file, what happened, and what to do.
public struct ModelError: Error, Sendable, CustomStringConvertible {
  /// What kind of failure this is; extensible, compare with the static members.
  public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The file does not exist.
    public static let fileNotFound = Code(rawValue: "fileNotFound")
    /// The file exists but could not be read (permissions, I/O error).
    public static let unreadable = Code(rawValue: "unreadable")
    /// The file could not be written (permissions, disk full, missing folder).
    public static let writeFailed = Code(rawValue: "writeFailed")
    /// The file is not a TensorFlow GraphDef (wrong format altogether).
    public static let notAGraphDef = Code(rawValue: "notAGraphDef")
    /// The file ends before the structure it started is complete.
    public static let truncated = Code(rawValue: "truncated")
    /// A tensor the network needs is not in the file.
    public static let missingTensor = Code(rawValue: "missingTensor")
    /// A tensor has a shape other than the one the network needs.
    public static let wrongShape = Code(rawValue: "wrongShape")
    /// A tensor's element type is not one dropnet reads (only 32-bit float is).
    public static let unsupportedDataType = Code(rawValue: "unsupportedDataType")
    /// A tensor's stored values do not match its declared shape (count or byte length).
    public static let shapeMismatch = Code(rawValue: "shapeMismatch")
    /// A safetensors header is not the JSON the format prescribes.
    public static let malformedHeader = Code(rawValue: "malformedHeader")
    /// A tensor's data offsets point outside the file's data section.
    public static let offsetsOutOfRange = Code(rawValue: "offsetsOutOfRange")
    /// Two tensors claim the same bytes, or bytes of the data section belong to none.
    public static let overlappingTensors = Code(rawValue: "overlappingTensors")
    /// Metadata dropnet needs (architecture, labels, format version) is absent or invalid.
    public static let invalidMetadata = Code(rawValue: "invalidMetadata")
    /// The checkpoint was written by a newer dropnet format than this build reads.
    public static let unsupportedVersion = Code(rawValue: "unsupportedVersion")
    /// The checkpoint is not a MobileNet v1 dropnet can run or export.
    public static let unsupportedCheckpoint = Code(rawValue: "unsupportedCheckpoint")
    /// A classifier head's tensors or layers do not fit together.
    public static let invalidHead = Code(rawValue: "invalidHead")
    /// Image bytes passed to preprocessing do not match the stated size.
    public static let invalidImage = Code(rawValue: "invalidImage")
  }

  /// What kind of failure.
  public var code: Code
  /// The file involved, if any (a path as given by the caller).
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
    var text = "ModelError.\(code)"
    if let file { text += " [\(file)]" }
    return text + ": " + message
  }
}
