import DropnetTestSupport
import Foundation
import XCTest

/// The `dropnet extract` command as a user runs it: a real process on real footage.
final class ExtractCommandTests: XCTestCase {
  func testKillNineMidExtractionLeavesNoHalfRecordedMovie() throws {
    let root = try TestFiles.temporaryFolder()
    let drop = root.appendingPathComponent("drop")
    let state = root.appendingPathComponent("state")
    try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
    try TestFiles.ffmpeg(streetClip(seconds: 2, to: drop.appendingPathComponent("a.mov")))
    try TestFiles.ffmpeg(streetClip(seconds: 40, to: drop.appendingPathComponent("b.mov")))
    let arguments = [
      "extract", "--drop", drop.path, "--state", state.path, "--rate", "10", "--log-level", "debug",
    ]

    // Kill the process once it has written some of b.mov's frames (it reports progress every
    // 30 decoded frames, after the first sampled frame is written).
    let process = try CLIFixtures.start(arguments)
    var sawStart = false
    for line in process.lines {
      if line.contains("decoding") && line.contains("movie=b.mov") && line.contains("frame=30 ") {
        sawStart = true
        kill(process.process.processIdentifier, SIGKILL)
        break
      }
    }
    process.process.waitUntilExit()
    XCTAssertTrue(sawStart)
    XCTAssertEqual(process.process.terminationReason, .uncaughtSignal)

    let manifest = try CLIFixtures.manifest(state)
    let movies = try XCTUnwrap(manifest["movies"] as? [String: Any])
    XCTAssertEqual(Array(movies.keys), ["a.mov"], "b.mov must not be half-recorded")
    let partials = try FileManager.default.contentsOfDirectory(
      atPath: state.appendingPathComponent("frames/b").path)
    XCTAssertTrue(partials.contains { $0.hasSuffix(".partial") }, "killed mid-write: \(partials)")

    // The next run redoes b.mov alone, sweeps the partial folder, and records it whole.
    let rerun = try CLIFixtures.run(arguments)
    XCTAssertEqual(rerun.status, 0, rerun.output)
    XCTAssertTrue(rerun.output.contains("1 extracted, 1 unchanged"), rerun.output)
    let after = try XCTUnwrap(try CLIFixtures.manifest(state)["movies"] as? [String: Any])
    XCTAssertEqual(Set(after.keys), ["a.mov", "b.mov"])
    let folders = try FileManager.default.contentsOfDirectory(
      atPath: state.appendingPathComponent("frames/b").path)
    XCTAssertEqual(folders.count, 1)
    XCTAssertFalse(folders[0].hasSuffix(".partial"))
    let record = try XCTUnwrap(after["b.mov"] as? [String: Any])
    let frames = try XCTUnwrap(record["frames"] as? [[String: Any]])
    let kept = frames.filter { $0["dropReason"] == nil }.count
    let files = try FileManager.default.contentsOfDirectory(
      atPath: state.appendingPathComponent("frames/b/\(folders[0])").path)
    XCTAssertEqual(files.filter { $0.hasSuffix(".jpg") }.count, kept)
    // 400 frames, sampled every 2nd to stay under the default cap of 300 per movie.
    XCTAssertEqual(frames.count, 200)
  }

  func testSummaryTableAndExitStatus() throws {
    let root = try TestFiles.temporaryFolder()
    let drop = root.appendingPathComponent("drop")
    try FileManager.default.createDirectory(
      at: drop.appendingPathComponent("walk"), withIntermediateDirectories: true)
    try TestFiles.ffmpeg(streetClip(seconds: 2, to: drop.appendingPathComponent("walk/one.mov")))
    try Data().write(to: drop.appendingPathComponent("broken.mov"))
    let result = try CLIFixtures.run([
      "extract", "--drop", drop.path, "--state", root.appendingPathComponent("state").path,
    ])
    XCTAssertEqual(result.status, 1, "a failed movie makes the exit status 1")
    XCTAssertTrue(result.output.contains("label  movies  frames kept  blurred  duplicates"))
    XCTAssertTrue(result.output.contains("walk        1"), result.output)
    XCTAssertTrue(result.output.contains("broken.mov: the file is empty"), result.output)
  }

  func testHelpExplainsTheContract() throws {
    let result = try CLIFixtures.run(["extract", "--help"])
    XCTAssertEqual(result.status, 0)
    XCTAssertTrue(result.output.contains("--drop"))
    XCTAssertTrue(result.output.contains("manifest.json"))
  }

  private func streetClip(seconds: Int, to url: URL) throws -> [String] {
    [
      "-i", try TestFiles.opencvSample("vtest.avi").path, "-t", "\(seconds)", "-vf",
      "scale=320:240", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", url.path,
    ]
  }
}
