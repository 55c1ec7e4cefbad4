import DropnetDataset
import Foundation

/// One kept frame as a training or validation example.
public struct TrainingSample: Hashable, Sendable {
  /// The class the frame teaches.
  public var label: Label
  /// The movie's path relative to the drop folder (its identity in the manifest).
  public var moviePath: String
  /// Folder name of the movie's frames.
  public var movieID: String
  /// Index of the frame in decoding order (the JPEG is `<frameIndex>.jpg`).
  public var frameIndex: Int
  /// Seconds from the movie's start.
  public var time: Double

  public init(label: Label, moviePath: String, movieID: String, frameIndex: Int, time: Double) {
    self.label = label
    self.moviePath = moviePath
    self.movieID = movieID
    self.frameIndex = frameIndex
    self.time = time
  }

  /// The JPEG's path relative to the state folder: `frames/<label>/<movieID>/<index>.jpg`.
  public var relativePath: String { "frames/\(label.name)/\(movieID)/\(frameIndex).jpg" }

  /// The JPEG inside `stateFolder`.
  public func url(in stateFolder: URL) -> URL {
    stateFolder.appendingPathComponent(relativePath)
  }

  /// Every kept frame of `record`, in time order.
  public static func keptFrames(of record: MovieRecord) -> [TrainingSample] {
    record.keptFrames
      .map {
        TrainingSample(
          label: record.label, moviePath: record.path, movieID: record.movieID,
          frameIndex: $0.index, time: $0.time)
      }
      .sorted { ($0.time, $0.frameIndex) < ($1.time, $1.frameIndex) }
  }
}
