import Foundation

/// A file held under an exclusive `flock` for as long as the value lives (or the process:
/// the kernel releases the lock when it dies, so a kill -9 leaves no stale lock), so two
/// processes never work in one folder at once. The file may carry a short text, such as the
/// holder's process id.
public final class LockFile {
  /// The file's path.
  public let path: String
  private let descriptor: Int32

  /// Opens (creating) `path` and takes the lock without waiting; nil when another process
  /// holds it. Throws `AtomicFile.Failure` when the file cannot be opened.
  public init?(path: String) throws(AtomicFile.Failure) {
    let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw AtomicFile.Failure(step: "open", path: path, code: errno) }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      close(descriptor)
      return nil
    }
    self.path = path
    self.descriptor = descriptor
  }

  deinit { close(descriptor) }

  /// Replaces the file's text (durably: fsynced).
  public func write(_ text: String) {
    let bytes = Array(text.utf8)
    _ = ftruncate(descriptor, 0)
    _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    fsync(descriptor)
  }

  /// The text of the lock file at `path` while some process holds it; nil when nobody does
  /// (or there is no such file).
  public static func holderText(at path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    // A shared lock we can take means nobody holds the exclusive one.
    if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
      flock(descriptor, LOCK_UN)
      return nil
    }
    return text(descriptor)
  }

  /// The text of the lock file at `path`, held or not.
  static func text(_ descriptor: Int32) -> String {
    var buffer = [UInt8](repeating: 0, count: 256)
    let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
    return String(decoding: buffer[0..<max(count, 0)], as: UTF8.self)
  }
}
