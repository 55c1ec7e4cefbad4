import Foundation
import XCTest

/// Real media for tests: OpenCV's sample data (Debian opencv-doc) and clips cut from it with
/// the ffmpeg command-line tool. Both are installed by the test set-up (Tests/run-tests.sh).
enum TestMedia {
  static let opencvData = URL(fileURLWithPath: "/usr/share/doc/opencv-doc/examples/data")

  /// A file of OpenCV's sample data; fails the test with set-up advice when missing.
  static func opencvSample(_ name: String) throws -> URL {
    let url = opencvData.appendingPathComponent(name)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw CocoaError(
        .fileNoSuchFile,
        userInfo: [
          NSLocalizedDescriptionKey:
            "missing \(url.path): run Tests/run-tests.sh (it installs opencv-doc)"
        ])
    }
    return url
  }

  /// A new empty folder under the temporary directory.
  static func temporaryFolder(_ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("dropnet-tests-\(getpid())")
      .appendingPathComponent("\(safe)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// Runs ffmpeg quietly; throws with its output when it fails.
  static func ffmpeg(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
    process.arguments = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw NSError(
        domain: "ffmpeg", code: Int(process.terminationStatus),
        userInfo: [NSLocalizedDescriptionKey: String(decoding: output, as: UTF8.self)])
    }
  }

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
