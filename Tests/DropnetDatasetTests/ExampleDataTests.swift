import Foundation
import Logging
import XCTest

@testable import DropnetDataset

/// The quality filter on the bundled example movies (real photos, filmed with a simulated
/// handheld camera by examples/make-examples.sh, which records in movies.json which frames it
/// blurred on purpose with whip pans).
final class ExampleDataTests: XCTestCase {
  /// Share of the deliberately blurred sampled frames the filter must drop.
  let minimumBlurRecall = 0.8
  /// Share of each movie's sampled frames that must be kept ("keeps enough of each movie").
  let minimumKeptShare = 0.5

  private struct Description: Decodable {
    struct Movie: Decodable {
      var path: String
      var label: String
      var blurredFrames: [[Int]]
    }
    var movies: [Movie]

    /// The movies of the drop folder (movies.json also lists test clips elsewhere).
    var dropMovies: [Movie] { movies.filter { $0.path.hasPrefix("drop/") } }
  }

  func testFilterDropsTheWhipPansAndKeepsMostOfEachMovie() throws {
    let examples = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("examples/generated")
    let descriptionURL = examples.appendingPathComponent("movies.json")
    guard FileManager.default.fileExists(atPath: descriptionURL.path) else {
      XCTFail("no example data: run examples/make-examples.sh (Tests/run-tests.sh does)")
      return
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    let description = try decoder.decode(Description.self, from: Data(contentsOf: descriptionURL))
    let state = try TestMedia.temporaryFolder()
    let summary = try DatasetBuilder(
      dropFolder: examples.appendingPathComponent("drop"), stateFolder: state,
      settings: ExtractionSettings(),
      logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    ).run()
    XCTAssertTrue(summary.failed.isEmpty, "\(summary.failed)")
    XCTAssertEqual(summary.manifest.movies.count, description.dropMovies.count)

    var deliberate = 0
    var caught = 0
    for movie in description.dropMovies {
      let path = String(movie.path.dropFirst("drop/".count))
      let record = try XCTUnwrap(summary.manifest.movies[path], path)
      XCTAssertEqual(record.label.name, movie.label)
      let inBlurredRange = { (index: Int) in
        movie.blurredFrames.contains { $0[0] <= index && index <= $0[1] }
      }
      for frame in record.frames where frame.dropReason == .blurred {
        XCTAssertTrue(
          inBlurredRange(frame.index), "\(path) frame \(frame.index) dropped as blurred")
      }
      let sampledInRanges = record.frames.filter { inBlurredRange($0.index) }
      deliberate += sampledInRanges.count
      caught += sampledInRanges.filter { $0.dropReason == .blurred }.count
      let keptShare = Double(record.keptFrames.count) / Double(record.frames.count)
      XCTAssertGreaterThanOrEqual(keptShare, minimumKeptShare, path)
    }
    XCTAssertGreaterThan(deliberate, 0)
    XCTAssertGreaterThanOrEqual(Double(caught) / Double(deliberate), minimumBlurRecall)
  }
}
