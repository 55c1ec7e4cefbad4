import Foundation

/// Writes files so that a reader, or a process restarted after kill -9, sees either the old
/// complete file or the new complete file, never a partial one.
public enum AtomicFile {
  /// Writes `data` to a temporary file beside `url`, fsyncs it, renames it over `url` and
  /// fsyncs the folder so the rename itself survives a crash.
  public static func write(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    let temporary = folder.appendingPathComponent(
      ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw failure("create", temporary) }
    var written = 0
    let ok = data.withUnsafeBytes { bytes -> Bool in
      while written < bytes.count {
        let count = Foundation.write(
          descriptor, bytes.baseAddress! + written, bytes.count - written)
        if count < 0 {
          if errno == EINTR { continue }
          return false
        }
        written += count
      }
      return fsync(descriptor) == 0
    }
    let writeError = errno
    close(descriptor)
    guard ok else {
      unlink(temporary.path)
      errno = writeError
      throw failure("write", url)
    }
    guard rename(temporary.path, url.path) == 0 else {
      let renameError = errno
      unlink(temporary.path)
      errno = renameError
      throw failure("rename into place", url)
    }
    syncFolder(folder)
  }

  /// fsyncs a folder so renames and removals in it are durable.
  public static func syncFolder(_ folder: URL) {
    let descriptor = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    fsync(descriptor)
    close(descriptor)
  }

  static func failure(_ action: String, _ url: URL) -> DatasetError {
    let reason = String(cString: strerror(errno))
    let advice =
      errno == ENOSPC || errno == EDQUOT
      ? "free disk space and run again" : "check that the folder exists and is writable"
    return DatasetError(.io, path: url.path, "cannot \(action) the file (\(reason)); \(advice)")
  }
}
