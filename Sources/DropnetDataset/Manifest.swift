import DropnetStorage
import Foundation

/// The dataset's index, one JSON file written atomically: every extracted movie with its
/// frames, and every movie that failed.
public struct Manifest: Codable, Sendable, Equatable {
  /// Format version, for migrations.
  public var version = 1
  /// Extracted movies by path relative to the drop folder.
  public var movies: [String: MovieRecord] = [:]
  /// Movies that failed, by path; a failure does not remove an earlier good extraction.
  public var failures: [String: FailureRecord] = [:]
  /// The drop folder the movies were extracted from (absolute), when known.
  public var dropFolder: String?

  public init() {}

  public static let fileName = "manifest.json"

  /// Reads `manifest.json` from `stateFolder`; an absent file is an empty manifest.
  public static func load(from stateFolder: URL) throws -> Manifest {
    let url = stateFolder.appendingPathComponent(fileName)
    guard FileManager.default.fileExists(atPath: url.path) else { return Manifest() }
    do {
      return try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: url))
    } catch {
      throw DatasetError(
        .io, path: url.path,
        "the manifest cannot be read (\(error)); move it away to rebuild the dataset from the drop folder"
      )
    }
  }

  /// Writes `manifest.json` into `stateFolder` atomically (temp file, fsync, rename).
  public func save(to stateFolder: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    do {
      try AtomicFile.write(
        try encoder.encode(self), to: stateFolder.appendingPathComponent(Self.fileName))
    } catch let failure as AtomicFile.Failure {
      throw DatasetError(.io, path: failure.path, "\(failure)")
    }
  }

  /// Classes with their kept frame counts, sorted by label.
  public var keptFramesByLabel: [(label: Label, frames: Int)] {
    Dictionary(grouping: movies.values, by: \.label)
      .map { ($0.key, $0.value.reduce(0) { $0 + $1.keptFrames.count }) }
      .sorted { $0.0 < $1.0 }
  }
}
