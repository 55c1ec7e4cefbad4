import DropnetTestSupport
import Foundation
import XCTest

/// `dropnet weights import` then `dropnet predict` on real photos nobody here made.
final class PredictCommandTests: XCTestCase {
  private func importedCheckpoint() throws -> URL { try DropnetExecutable.imageNetWeights() }

  private struct Prediction: Decodable {
    struct Scored: Decodable {
      var label: String
      var probability: Double
    }
    var image: String
    var top: [Scored]
  }

  private func predict(_ images: [URL]) throws -> [Prediction] {
    let result = try CLIFixtures.run(
      ["predict", "--json", "--model", try importedCheckpoint().path] + images.map(\.path),
      separateErrors: true)
    XCTAssertEqual(result.status, 0, result.output)
    return try JSONDecoder().decode([Prediction].self, from: Data(result.output.utf8))
  }

  func testRealPhotosGetTheirImageNetClass() throws {
    let photos = TestFiles.packageRoot.appendingPathComponent("examples/generated/test-photos")
    guard FileManager.default.fileExists(atPath: photos.appendingPathComponent("coffee.png").path)
    else {
      XCTFail("missing test photos: run examples/fetch-test-photos.sh (Tests/run-tests.sh does)")
      return
    }
    // (photo, words the top-1 label must contain, or those the top-5 must contain)
    let table: [(URL, top1: [String], top5: String)] = [
      (photos.appendingPathComponent("chelsea.png"), ["tabby", "Egyptian cat"], "tabby"),
      (photos.appendingPathComponent("coffee.png"), ["espresso"], "espresso"),
      (try TestFiles.opencvSample("squirrel_cls.jpg"), ["fox squirrel"], "fox squirrel"),
      (try TestFiles.opencvSample("orange.jpg"), ["orange"], "orange"),
      (try TestFiles.opencvSample("baboon.jpg"), ["baboon"], "baboon"),
    ]
    let predictions = try predict(table.map(\.0))
    XCTAssertEqual(predictions.count, table.count)
    for (prediction, row) in zip(predictions, table) {
      XCTAssertEqual(prediction.top.count, 5)
      let first = try XCTUnwrap(prediction.top.first)
      XCTAssertTrue(
        row.top1.contains { first.label.contains($0) }, "\(prediction.image): \(prediction.top)")
      XCTAssertTrue(prediction.top.contains { $0.label.contains(row.top5) })
      let total = prediction.top.reduce(0) { $0 + $1.probability }
      XCTAssertLessThanOrEqual(total, 1.0001)
      XCTAssertGreaterThan(first.probability, 0.3)
    }
  }

  func testMissingModelAndBadImagesSayWhatToDo() throws {
    let missing = try CLIFixtures.run([
      "predict", "--model", "/nonexistent/model.safetensors",
      try TestFiles.opencvSample("orange.jpg").path,
    ])
    XCTAssertEqual(missing.status, 2)
    XCTAssertTrue(missing.output.contains("/nonexistent/model.safetensors"), missing.output)

    let notAnImage = try TestFiles.temporaryFolder().appendingPathComponent("notes.jpg")
    try Data("not an image".utf8).write(to: notAnImage)
    let bad = try CLIFixtures.run([
      "predict", "--model", try importedCheckpoint().path, notAnImage.path,
      try TestFiles.opencvSample("orange.jpg").path,
    ])
    XCTAssertEqual(bad.status, 1, "one image failed")
    XCTAssertTrue(bad.output.contains("notes.jpg"), bad.output)
    XCTAssertTrue(bad.output.contains("orange"), "the good image is still classified")
  }
}
