import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes a whole file so that readers see either the old file or the complete new one:
/// the bytes go to a temporary file in the same folder, which is fsynced, renamed over the
/// destination, and then the folder is fsynced so the rename itself survives a power cut.
public enum AtomicFileWriter {
  /// Replaces `url` with `data`; on failure the destination is untouched and the
  /// temporary file is removed.
  public static func write(_ data: Data, to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    // Same folder, so rename(2) never crosses a file system; the random part keeps two
    // concurrent writers from sharing a temporary file.
    let temporary = folder.appendingPathComponent(
      ".\(url.lastPathComponent).\(UUID().uuidString).partial")
    let destinationPath = url.path
    let temporaryPath = temporary.path

    let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw failure(destinationPath, "cannot create \(temporaryPath)")
    }
    var renamed = false
    defer {
      if !renamed { unlink(temporaryPath) }
    }
    do {
      defer { close(descriptor) }
      try data.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
          let written = systemWrite(
            descriptor, buffer.baseAddress! + offset, buffer.count - offset)
          if written < 0 {
            if errno == EINTR { continue }
            throw failure(destinationPath, "writing \(temporaryPath) failed")
          }
          offset += written
        }
      }
      guard fsync(descriptor) == 0 else {
        throw failure(destinationPath, "fsync of \(temporaryPath) failed")
      }
    }
    guard rename(temporaryPath, destinationPath) == 0 else {
      throw failure(destinationPath, "renaming \(temporaryPath) over the destination failed")
    }
    renamed = true

    let folderDescriptor = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard folderDescriptor >= 0 else {
      throw failure(destinationPath, "cannot open folder \(folder.path) to fsync it")
    }
    defer { close(folderDescriptor) }
    guard fsync(folderDescriptor) == 0 else {
      throw failure(destinationPath, "fsync of folder \(folder.path) failed")
    }
  }

  /// An error naming the system call's `errno` and what to check.
  private static func failure(_ path: String, _ what: String) -> ModelError {
    let reason = String(cString: strerror(errno))
    return ModelError(
      code: .writeFailed, file: path,
      message: "\(what): \(reason); check that the folder exists, is writable and has space")
  }
}

/// write(2), reachable under a name the `write(_:to:)` method above does not shadow.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
  write(descriptor, bytes, count)
}
