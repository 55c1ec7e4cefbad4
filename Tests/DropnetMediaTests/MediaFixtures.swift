import Foundation
import XCTest

/// Real media for tests: OpenCV's sample data (Debian opencv-doc) and the ffmpeg tool, both
/// installed by the test set-up (Tests/run-tests.sh).
enum MediaFixtures {
  static func opencvSample(_ name: String) throws -> URL {
    let url = URL(fileURLWithPath: "/usr/share/doc/opencv-doc/examples/data/\(name)")
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

  static func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("dropnet-media-tests-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  static func ffmpeg(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
    process.arguments = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"] + arguments
    let pipe = Pipe()
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
}
