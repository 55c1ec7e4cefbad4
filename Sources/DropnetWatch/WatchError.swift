/// An error from watching the drop folder, saying what happened and what to do.
public struct WatchError: Error, CustomStringConvertible, Sendable {
  /// What went wrong; extensible.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Another `FolderWatcher` is running in this process (libinotifytools is process-wide).
    public static let alreadyWatching = Code("already_watching")
    /// inotify could not be started (e.g. the per-user instance limit is reached).
    public static let inotifyUnavailable = Code("inotify_unavailable")
    /// The folder to watch is missing or not a folder.
    public static let missingFolder = Code("missing_folder")
    /// A watch could not be added (e.g. the per-user watch limit is reached).
    public static let watchFailed = Code("watch_failed")
    /// Waiting for events failed.
    public static let pollFailed = Code("poll_failed")
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
