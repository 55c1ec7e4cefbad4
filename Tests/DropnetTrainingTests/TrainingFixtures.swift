import DropnetDataset
import DropnetTestSupport
import Foundation
import Logging

/// A small real frame dataset: clips of OpenCV's `vtest.avi` street scene, extracted by
/// `DatasetBuilder`. Class `street` has two movies (4 s and 3 s), class `walkers` one (6 s);
/// built once per test process.
enum TrainingFixtures {
  struct Dataset: @unchecked Sendable {
    let stateFolder: URL
    let manifest: Manifest
  }

  nonisolated(unsafe) private static var cached: Dataset?
  private static let lock = NSLock()

  /// The extracted dataset (made on first use).
  static func dataset() throws -> Dataset {
    lock.lock()
    defer { lock.unlock() }
    if let cached { return cached }
    let root = try TestFiles.temporaryFolder("training-dataset")
    let drop = root.appendingPathComponent("drop")
    let state = root.appendingPathComponent("state")
    try place(clip(start: 0, seconds: 4), at: drop.appendingPathComponent("street/a.mp4"))
    try place(clip(start: 6, seconds: 3), at: drop.appendingPathComponent("street/b.mp4"))
    try place(clip(start: 12, seconds: 6), at: drop.appendingPathComponent("walkers.mp4"))
    // Every frame (10 per second): the street scene is so still that the duplicate filter
    // would keep a handful, and a split is only tested by frames close in time.
    var settings = ExtractionSettings()
    settings.qualityFilter = false
    let builder = DatasetBuilder(
      dropFolder: drop, stateFolder: state, settings: settings,
      logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    let summary = try builder.run()
    let dataset = Dataset(stateFolder: state, manifest: summary.manifest)
    cached = dataset
    return dataset
  }

  /// A 320x240, 10 fps H.264 clip of `vtest.avi` from `start` seconds.
  static func clip(start: Double, seconds: Double) throws -> URL {
    let source = try TestFiles.opencvSample("vtest.avi")
    let folder = try TestFiles.temporaryFolder("clips")
    let url = folder.appendingPathComponent("clip.mp4")
    try TestFiles.ffmpeg([
      "-ss", "\(start)", "-t", "\(seconds)", "-i", source.path, "-vf", "scale=320:240,fps=10",
      "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", url.path,
    ])
    return url
  }

  static func place(_ source: URL, at destination: URL) throws {
    try FileManager.default.createDirectory(
      at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: source, to: destination)
  }

  /// A copy of `record` as another movie: new path, label and frames (index i at `times[i]`).
  static func movie(
    _ record: MovieRecord, path: String, label: Label, times: [Double]
  ) -> MovieRecord {
    var copy = record
    copy.path = path
    copy.label = label
    copy.movieID = path.filter { $0.isLetter || $0.isNumber }
    let template = record.frames[0]
    copy.frames = times.enumerated().map { index, time in
      var frame = template
      frame.index = index
      frame.time = time
      frame.dropReason = nil
      return frame
    }
    return copy
  }
}
