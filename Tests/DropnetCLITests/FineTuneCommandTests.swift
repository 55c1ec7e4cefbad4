import DropnetTestSupport
import Foundation
import XCTest

/// `dropnet train --fine-tune bn` on the example movies, kept tiny (debug builds run the whole
/// network per step): the run folder is complete and `predict` loads the checkpoint with its
/// trained base. Accuracy per mode is measured with release builds (see the README).
final class FineTuneCommandTests: XCTestCase {
  func testBatchNormFineTuningWritesAPredictableCheckpoint() throws {
    let (heldOut, root, state) = try CLIFixtures.extractExamples()
    let run = root.appendingPathComponent("run")
    let weights = try DropnetExecutable.imageNetWeights()
    let train = try CLIFixtures.run([
      "train", "--state", state.path, "--run", run.path, "--weights", weights.path,
      "--fine-tune", "bn", "--epochs", "2", "--max-frames-per-class", "4", "--no-augment",
    ])
    XCTAssertEqual(train.status, 0, train.output)
    XCTAssertTrue(train.output.contains("fine-tune bn"), train.output)
    for file in ["best.safetensors", "history.csv", "curves.png", "report.json"] {
      XCTAssertTrue(
        FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), file)
    }
    // The report gives the settings the fine-tuning ran with (its own default batch of 16),
    // not the head's.
    let report =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: run.appendingPathComponent("report.json"))) as? [String: Any]
    let settings = try XCTUnwrap(report?["settings"] as? [String: Any])
    XCTAssertEqual(settings["batchSize"] as? Int, 16)
    XCTAssertEqual(settings["fineTune"] as? String, "bn")
    let photo = heldOut.appendingPathComponent("fish/fish6.jpg")
    let predict = try CLIFixtures.run(
      [
        "predict", "--json", "--top", "1", "--model",
        run.appendingPathComponent("best.safetensors").path, photo.path,
      ], separateErrors: true)
    XCTAssertEqual(predict.status, 0, predict.output)
    XCTAssertTrue(predict.output.contains("\"label\""), predict.output)

    let rejected = try CLIFixtures.run([
      "train", "--state", state.path, "--run", run.path, "--fine-tune", "top:14",
    ])
    XCTAssertNotEqual(rejected.status, 0)
    XCTAssertTrue(rejected.output.contains("--fine-tune"), rejected.output)
  }
}
