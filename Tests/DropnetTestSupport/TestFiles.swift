import Foundation

/// Real files for tests: OpenCV's sample data (Debian opencv-doc), the ffmpeg tool, and the
/// package's generated example data, all installed or made by Tests/run-tests.sh. A missing
/// one fails the test with what to run: a skipped test could hide a broken set-up.
public enum TestFiles {
  /// A set-up failure that says what to do.
  public struct Missing: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
  }

  /// The package's root folder.
  public static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  /// A file of OpenCV's sample data, e.g. `vtest.avi` or `baboon.jpg`.
  public static func opencvSample(_ name: String) throws -> URL {
    let url = URL(fileURLWithPath: "/usr/share/doc/opencv-doc/examples/data/\(name)")
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw Missing("missing \(url.path): run Tests/run-tests.sh (it installs opencv-doc)")
    }
    return url
  }

  /// A new empty folder under the temporary directory.
  public static func temporaryFolder(_ name: String = "test") throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("dropnet-tests-\(getpid())")
      .appendingPathComponent("\(safe)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// Runs ffmpeg quietly; throws with its error output when it fails.
  public static func ffmpeg(_ arguments: [String]) throws {
    let result = try ChildProcess.run(
      URL(fileURLWithPath: "/usr/bin/ffmpeg"),
      ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments)
    guard result.status == 0 else {
      throw Missing("ffmpeg \(arguments.joined(separator: " ")) failed: \(result.output)")
    }
  }
}
