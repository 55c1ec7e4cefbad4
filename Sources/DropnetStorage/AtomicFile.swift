import Foundation

/// Writes whole files so that a reader, or a process restarted after kill -9 or a power cut,
/// sees either the old complete file or the new complete one, never a partial file.
public enum AtomicFile {
  /// Why a write failed: the step, the path and the system's reason.
  public struct Failure: Error, CustomStringConvertible, Sendable {
    /// What was being done ("create", "write", "fsync", "rename into place").
    public var step: String
    public var path: String
    /// errno of the failed call.
    public var code: Int32
    /// True when the disk (or quota) is full.
    public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }

    public var description: String {
      let advice =
        isOutOfSpace
        ? "free disk space and try again" : "check that the folder exists and is writable"
      return "cannot \(step) \(path) (\(String(cString: strerror(code)))); \(advice)"
    }
  }

  /// Replaces `url` with `data`: the bytes go to a temporary file in the same folder (so the
  /// rename never crosses file systems), which is fsynced and renamed over `url`; then the
  /// folder is fsynced so the rename itself is durable. On failure `url` is untouched and the
  /// temporary file is removed.
  public static func write(_ data: Data, to url: URL) throws(Failure) {
    let folder = url.deletingLastPathComponent()
    // The random part keeps two concurrent writers from sharing a temporary file.
    let temporary = folder.appendingPathComponent(
      ".\(url.lastPathComponent).\(UUID().uuidString).partial"
    ).path
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw Failure(step: "create", path: temporary, code: errno) }
    var renamed = false
    defer { if !renamed { unlink(temporary) } }
    do {
      defer { close(descriptor) }
      var offset = 0
      let failure: Failure? = data.withUnsafeBytes { buffer in
        while offset < buffer.count {
          let written = systemWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
          if written < 0 {
            if errno == EINTR { continue }
            return Failure(step: "write", path: temporary, code: errno)
          }
          offset += written
        }
        return nil
      }
      if let failure { throw failure }
      guard fsync(descriptor) == 0 else {
        throw Failure(step: "fsync", path: temporary, code: errno)
      }
    }
    guard rename(temporary, url.path) == 0 else {
      throw Failure(step: "rename into place", path: url.path, code: errno)
    }
    renamed = true
    syncFolder(folder)
  }

  /// fsyncs a folder so that renames and removals in it are durable (best effort).
  public static func syncFolder(_ folder: URL) {
    let descriptor = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
  }

  /// Renames `source` over `destination` and fsyncs the destination's folder.
  public static func move(_ source: URL, over destination: URL) throws(Failure) {
    guard rename(source.path, destination.path) == 0 else {
      throw Failure(step: "rename into place", path: destination.path, code: errno)
    }
    syncFolder(destination.deletingLastPathComponent())
  }
}

/// write(2), under a name that `AtomicFile.write(_:to:)` does not shadow.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
  write(descriptor, bytes, count)
}
