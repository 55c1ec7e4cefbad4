import Crypto
import Foundation

/// A file's size, modification time and (on demand) content hash.
public struct FileFingerprint: Hashable, Sendable {
  public var size: Int64
  /// Seconds since 1970, with the file system's sub-second precision.
  public var modificationTime: Double

  /// Reads size and mtime with stat(2).
  public init(path: String) throws {
    var status = stat()
    guard stat(path, &status) == 0 else {
      throw DatasetError(
        .io, path: path, "cannot read the file's status (\(String(cString: strerror(errno))))")
    }
    size = Int64(status.st_size)
    modificationTime =
      Double(status.st_mtim.tv_sec) + Double(status.st_mtim.tv_nsec) / 1_000_000_000
  }

  /// SHA-256 of the file's content as hex, read in 1 MiB chunks (bounded memory).
  public static func contentHash(path: String) throws -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw DatasetError(.io, path: path, "cannot open the file to hash it; check permissions")
    }
    defer { try? handle.close() }
    var hasher = SHA256()
    while true {
      let chunk: Data
      do {
        chunk = try handle.read(upToCount: 1 << 20) ?? Data()
      } catch {
        throw DatasetError(.io, path: path, "cannot read the file (\(error))")
      }
      if chunk.isEmpty { break }
      hasher.update(data: chunk)
    }
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
  }
}
