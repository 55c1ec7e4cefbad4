import DropnetTestSupport
import Foundation

/// Real footage for the dataset tests: clips cut with ffmpeg from OpenCV's `vtest.avi`.
enum TestMedia {
  static func opencvSample(_ name: String) throws -> URL { try TestFiles.opencvSample(name) }

  static func temporaryFolder(_ name: String = #function) throws -> URL {
    try TestFiles.temporaryFolder(name)
  }

  static func ffmpeg(_ arguments: [String]) throws { try TestFiles.ffmpeg(arguments) }

  private static let cache = FileManager.default.temporaryDirectory
    .appendingPathComponent("dropnet-tests-\(getpid())/clips")

  /// A short H.264 clip of OpenCV's `vtest.avi` (a real street scene), 320x240, 10 fps,
  /// starting at `start` seconds; made once per test process and cached. `filter` adds an
  /// ffmpeg video filter (e.g. a blur over a time range).
  static func streetClip(
    start: Double = 0, seconds: Double = 3, filter: String? = nil, faststart: Bool = false
  ) throws -> URL {
    let source = try opencvSample("vtest.avi")
    try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
    let key = "\(start)-\(seconds)-\(filter ?? "")-\(faststart)".filter {
      $0.isLetter || $0.isNumber
    }
    let url = cache.appendingPathComponent("street-\(key).mp4")
    if FileManager.default.fileExists(atPath: url.path) { return url }
    var filters = ["scale=320:240", "fps=10"]
    if let filter { filters.append(filter) }
    var arguments = [
      "-ss", "\(start)", "-t", "\(seconds)", "-i", source.path, "-vf",
      filters.joined(separator: ","), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset",
      "veryfast",
    ]
    if faststart { arguments += ["-movflags", "+faststart"] }
    let partial = cache.appendingPathComponent("partial-\(UUID().uuidString).mp4")
    try ffmpeg(arguments + [partial.path])
    try FileManager.default.moveItem(at: partial, to: url)
    return url
  }

  /// Copies `source` to `destination`, creating folders.
  static func place(_ source: URL, at destination: URL) throws {
    try FileManager.default.createDirectory(
      at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
    try? FileManager.default.removeItem(at: destination)
    try FileManager.default.copyItem(at: source, to: destination)
  }
}
