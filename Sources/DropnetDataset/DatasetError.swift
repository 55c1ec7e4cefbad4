/// An error from the drop folder, the manifest or extraction, saying what happened and what to do.
public struct DatasetError: Error, CustomStringConvertible, Sendable {
  /// What went wrong; extensible.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// A label (file stem or folder name) that cannot be used safely.
    public static let invalidLabel = Code("invalid_label")
    /// Two labels that differ only in case or Unicode form.
    public static let labelCollision = Code("label_collision")
    /// A movie file of zero bytes.
    public static let emptyMovie = Code("empty_movie")
    /// A file FFmpeg cannot open as a movie.
    public static let unreadableMovie = Code("unreadable_movie")
    /// A movie from which no frame decodes.
    public static let noFrames = Code("no_frames")
    /// The file changed while it was read (still being copied).
    public static let changedWhileReading = Code("changed_while_reading")
    /// A folder that is missing or not a folder.
    public static let missingFolder = Code("missing_folder")
    /// Another dropnet process holds the state folder.
    public static let stateLocked = Code("state_locked")
    /// A file could not be read or written.
    public static let io = Code("io")
  }

  public var code: Code
  /// The file or folder involved.
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
