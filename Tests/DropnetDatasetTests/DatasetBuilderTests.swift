import Foundation
import Logging
import XCTest

@testable import DropnetDataset

/// Incremental extraction on real footage (clips of OpenCV's vtest.avi street scene).
final class DatasetBuilderTests: XCTestCase {
  private var drop: URL!
  private var state: URL!

  override func setUpWithError() throws {
    let root = try TestMedia.temporaryFolder(name)
    drop = root.appendingPathComponent("drop")
    state = root.appendingPathComponent("state")
    try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
  }

  private func builder(_ settings: ExtractionSettings = ExtractionSettings()) -> DatasetBuilder {
    DatasetBuilder(
      dropFolder: drop, stateFolder: state, settings: settings,
      logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
  }

  /// Runs the builder and returns its summary with the paths it started decoding.
  private func extract(_ settings: ExtractionSettings = ExtractionSettings()) throws -> (
    summary: DatasetBuilder.Summary, decoded: [String]
  ) {
    var decoded: [String] = []
    let summary = try builder(settings).run(events: { event in
      if case .movieStarted(let path, _, _) = event { decoded.append(path) }
    })
    return (summary, decoded)
  }

  /// The kept frames' files (`<label>/<movieID>/<index>.jpg`), or with `dropped` the dropped
  /// frames' (`<label>/<movieID>/dropped/<index>.jpg`).
  private func frameFiles(dropped: Bool = false) throws -> [String] {
    let frames = state.appendingPathComponent("frames")
    guard let walker = FileManager.default.enumerator(atPath: frames.path) else { return [] }
    return walker.compactMap { $0 as? String }
      .filter { $0.hasSuffix(".jpg") && $0.contains("/dropped/") == dropped }.sorted()
  }

  func testFirstRunExtractsAndSecondRunDecodesNothing() throws {
    try TestMedia.place(try TestMedia.streetClip(), at: drop.appendingPathComponent("street.mov"))
    try TestMedia.place(
      try TestMedia.streetClip(start: 20), at: drop.appendingPathComponent("walk/clip 1.mp4"))
    let first = try extract()
    XCTAssertEqual(first.decoded, ["street.mov", "walk/clip 1.mp4"])
    let record = try XCTUnwrap(first.summary.manifest.movies["walk/clip 1.mp4"])
    XCTAssertEqual(record.label.name, "walk")
    XCTAssertEqual(record.contentHash.count, 64)
    XCTAssertEqual(record.video.width, 320)
    // 3 s at 10 fps sampled at ~8 frames/s: every frame (interval 1), 30 sampled.
    XCTAssertEqual(record.frames.count, 30)
    // A fixed street camera at 10 fps: many frames are near-duplicates and dropped.
    XCTAssertGreaterThanOrEqual(record.keptFrames.count, 3)
    let files = try frameFiles()
    XCTAssertEqual(
      files.count, first.summary.manifest.movies.values.reduce(0) { $0 + $1.keptFrames.count })
    XCTAssertTrue(files.allSatisfy { $0.hasPrefix("street/") || $0.hasPrefix("walk/") })

    let second = try extract()
    XCTAssertEqual(second.decoded, [])
    XCTAssertEqual(second.summary.unchanged.sorted(), ["street.mov", "walk/clip 1.mp4"])
    XCTAssertEqual(second.summary.manifest, first.summary.manifest)
    XCTAssertEqual(try frameFiles(), files)
  }

  func testNewChangedTouchedAndRemovedMovies() throws {
    let street = drop.appendingPathComponent("street.mov")
    let other = drop.appendingPathComponent("other.mov")
    try TestMedia.place(try TestMedia.streetClip(), at: street)
    try TestMedia.place(try TestMedia.streetClip(start: 10), at: other)
    let first = try extract()
    let oldStreet = try XCTUnwrap(first.summary.manifest.movies["street.mov"])

    // A new movie is extracted alone.
    try TestMedia.place(
      try TestMedia.streetClip(start: 30), at: drop.appendingPathComponent("new.mov"))
    XCTAssertEqual(try extract().decoded, ["new.mov"])

    // Only the time stamp changes: re-hashed, not decoded.
    var touched = false
    utime(other.path, nil)
    _ = try builder().run(events: { if case .movieTouched = $0 { touched = true } })
    XCTAssertTrue(touched)

    // New content under the same name: re-extracted, the old frames deleted.
    try TestMedia.place(try TestMedia.streetClip(start: 40), at: street)
    let changed = try extract()
    XCTAssertEqual(changed.decoded, ["street.mov"])
    let newStreet = try XCTUnwrap(changed.summary.manifest.movies["street.mov"])
    XCTAssertNotEqual(newStreet.contentHash, oldStreet.contentHash)
    XCTAssertNotEqual(newStreet.movieID, oldStreet.movieID)
    XCTAssertFalse(try frameFiles().contains { $0.contains(oldStreet.movieID) })

    // A removed movie loses its frames and its record.
    try FileManager.default.removeItem(at: other)
    let removed = try extract()
    XCTAssertEqual(removed.summary.removed, ["other.mov"])
    XCTAssertNil(removed.summary.manifest.movies["other.mov"])
    XCTAssertFalse(try frameFiles().contains { $0.hasPrefix("other/") })
  }

  func testSettingsChangeReextracts() throws {
    try TestMedia.place(try TestMedia.streetClip(), at: drop.appendingPathComponent("street.mov"))
    _ = try extract()
    var sparser = ExtractionSettings()
    sparser.sampling = .interval(3)
    let rerun = try extract(sparser)
    XCTAssertEqual(rerun.decoded, ["street.mov"])
    XCTAssertEqual(rerun.summary.manifest.movies["street.mov"]?.frames.count, 10)
    XCTAssertEqual(try extract(sparser).decoded, [])
  }

  func testBadMoviesAreReportedAndTheOthersExtracted() throws {
    let good = try TestMedia.streetClip(faststart: true)
    try TestMedia.place(good, at: drop.appendingPathComponent("good.mov"))
    try Data().write(to: drop.appendingPathComponent("empty.mov"))
    try Data("just some text, not a movie".utf8).write(to: drop.appendingPathComponent("text.mov"))
    try TestMedia.place(
      try TestMedia.opencvSample("LinuxLogo.jpg"), at: drop.appendingPathComponent("photo.mp4"))
    // A movie whose index is at the front, cut short: 60% decodes partly, 30% not at all.
    let bytes = try Data(contentsOf: good)
    try bytes.prefix(bytes.count * 6 / 10).write(to: drop.appendingPathComponent("truncated.mov"))
    try bytes.prefix(bytes.count * 3 / 10).write(to: drop.appendingPathComponent("stub.mov"))
    // The header claims 444 frames; 68 decode.
    try TestMedia.place(
      try TestMedia.opencvSample("tree.avi"), at: drop.appendingPathComponent("tree.mov"))

    let result = try extract()
    let failed = result.summary.failed
    XCTAssertEqual(failed["empty.mov"]?.code, .emptyMovie)
    XCTAssertEqual(failed["text.mov"]?.code, .unreadableMovie)
    XCTAssertEqual(failed["photo.mp4"]?.code, .unreadableMovie)
    XCTAssertTrue(failed["photo.mp4"]?.message.contains("JPEG image") ?? false)
    XCTAssertEqual(failed["stub.mov"]?.code, .noFrames)
    XCTAssertEqual(failed.count, 4)
    for error in failed.values {
      XCTAssertTrue(error.message.contains("again"), "says what to do: \(error.message)")
    }
    XCTAssertNotNil(result.summary.manifest.movies["good.mov"])
    let tree = try XCTUnwrap(result.summary.manifest.movies["tree.mov"])
    XCTAssertEqual(tree.video.claimedFrameCount, 444)
    XCTAssertEqual(tree.decodedFrameCount, 68)
    XCTAssertTrue(tree.warnings.contains { $0.contains("444") && $0.contains("68") })
    let truncated = try XCTUnwrap(result.summary.manifest.movies["truncated.mov"])
    XCTAssertLessThan(truncated.decodedFrameCount, 30)
    XCTAssertTrue(truncated.warnings.contains { $0.contains("claims") })

    // Failures are remembered: an unchanged bad file is reported again but not decoded again.
    let again = try extract()
    XCTAssertEqual(again.decoded, [])
    XCTAssertEqual(Set(again.summary.failed.keys), Set(failed.keys))
  }

  func testAFailedReplacementKeepsTheEarlierFrames() throws {
    let movie = drop.appendingPathComponent("street.mov")
    try TestMedia.place(try TestMedia.streetClip(), at: movie)
    let first = try extract()
    let frames = try frameFiles()
    try Data("half a copy".utf8).write(to: movie)
    let second = try extract()
    XCTAssertEqual(second.summary.failed["street.mov"]?.code, .unreadableMovie)
    XCTAssertEqual(
      second.summary.manifest.movies["street.mov"], first.summary.manifest.movies["street.mov"])
    XCTAssertEqual(try frameFiles(), frames)
  }

  func testAMovieThatGrowsWhileReadIsNotRecorded() throws {
    let movie = drop.appendingPathComponent("growing.mov")
    try TestMedia.place(try TestMedia.streetClip(), at: movie)
    var appended = false
    let summary = try builder().run(events: { event in
      // The copy goes on while dropnet decodes: append bytes mid-extraction.
      if case .decoding = event, !appended, let handle = try? FileHandle(forWritingTo: movie) {
        handle.seekToEndOfFile()
        handle.write(Data(repeating: 0, count: 1024))
        try? handle.close()
        appended = true
      }
    })
    XCTAssertTrue(appended)
    XCTAssertEqual(summary.failed["growing.mov"]?.code, .changedWhileReading)
    XCTAssertNil(summary.manifest.movies["growing.mov"])
    XCTAssertEqual(try frameFiles(), [])
    // Once the copy has settled, the next run extracts it.
    XCTAssertEqual(try extract().decoded, ["growing.mov"])
  }

  func testQualityFilterDropsTheBlurredSecondOfRealFootage() throws {
    // Seconds 1-2 of the clip are blurred by ffmpeg (a real box blur of real footage).
    let clip = try TestMedia.streetClip(
      seconds: 4, filter: "boxblur=luma_radius=6:luma_power=2:enable='between(t,1.0,1.95)'")
    try TestMedia.place(clip, at: drop.appendingPathComponent("street.mov"))
    let record = try XCTUnwrap(try extract().summary.manifest.movies["street.mov"])
    let blurred = record.frames.filter { $0.dropReason == .blurred }
    let sharpFrames = record.frames.filter { $0.dropReason != .blurred }
    let kept = record.keptFrames
    XCTAssertFalse(blurred.isEmpty)
    XCTAssertTrue(blurred.allSatisfy { $0.time >= 0.95 && $0.time < 2.0 }, "\(blurred.map(\.time))")
    // Blur drops at most the blurred second (10 of 40 frames).
    XCTAssertGreaterThanOrEqual(sharpFrames.count, 30)
    let keptMedian = kept.map(\.sharpness).sorted()[kept.count / 2]
    XCTAssertTrue(blurred.allSatisfy { $0.sharpness < 0.3 * keptMedian })
    // The kept frames are the training files; the dropped ones are set aside in dropped/.
    let files = Set(try frameFiles().map { ($0 as NSString).lastPathComponent })
    XCTAssertEqual(files, Set(kept.map(\.fileName)))
    let dropped = Set(try frameFiles(dropped: true).map { ($0 as NSString).lastPathComponent })
    XCTAssertEqual(dropped, Set(record.frames.filter { $0.dropReason != nil }.map(\.fileName)))
  }

  func testAnotherProcessHoldingTheStateIsRefused() throws {
    try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
    let lock = try StateLock(stateFolder: state)
    XCTAssertThrowsError(try extract()) {
      XCTAssertEqual(($0 as? DatasetError)?.code, .stateLocked)
    }
    withExtendedLifetime(lock) {}
  }
}
