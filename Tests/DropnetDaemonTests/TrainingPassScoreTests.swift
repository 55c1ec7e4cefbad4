import DropnetDaemon
import DropnetDataset
import DropnetModel
import DropnetTestSupport
import DropnetTraining
import Foundation
import XCTest

/// The publish gate's scores of the published model: a pass scores a model on the new
/// outcome's validation frames, whatever order the model keeps its classes in (a warm start
/// keeps the published order, a fresh run sorts them), from cached features for a head on the
/// cached base and through the whole network otherwise.
final class TrainingPassScoreTests: XCTestCase {
  func testPassesScoreAModelWhoseClassesAreInAnotherOrder() throws {
    let root = try TestFiles.temporaryFolder("score")
    let drop = root.appendingPathComponent("drop")
    try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
    for name in ["fish.mov", "windmill.mov"] {
      try FileManager.default.copyItem(
        at: try ServiceHarness.example("drop/\(name)"), to: drop.appendingPathComponent(name))
    }
    let state = root.appendingPathComponent("state")
    let extract = try DropnetExecutable.run([
      "extract", "--drop", drop.path, "--state", state.path, "--max-frames", "24",
    ])
    XCTAssertEqual(extract.status, 0, extract.output)
    let plan = TrainingPlan(
      pass: .fast, mode: .head, warmStart: false, epochs: 3, seed: 0, bypassesGate: false,
      classes: ["fish", "windmill"])
    let request = TrainingRequest(
      manifest: try Manifest.load(from: state), stateFolder: state,
      base: try Checkpoint.read(from: DropnetExecutable.imageNetWeights()), plan: plan,
      batchSize: 8, threads: 2, maximumFramesPerClass: 8)
    let headPass = ModelTrainingPass(mode: .head)
    let outcome = try headPass.train(request)
    XCTAssertEqual(outcome.labels, ["fish", "windmill"])
    XCTAssertFalse(outcome.validation.isEmpty)

    // The same head with its outputs swapped: the same model to an app, which reads classes
    // by name.
    let swappedLabels = ["windmill", "fish"]
    let swappedHead = try ClassifierHeadModel(
      initialisedFrom: outcome.checkpoint, labels: swappedLabels)
    var swapped = outcome.checkpoint
    swapped.tensors.merge(swappedHead.tensors) { _, new in new }
    swapped.metadata.classLabels = swappedLabels

    let fromCache = try headPass.score(outcome.checkpoint, against: outcome, threads: 2)
    XCTAssertEqual(fromCache, outcome.validationAccuracy, "the kept epoch's own figure")
    XCTAssertEqual(try headPass.score(swapped, against: outcome, threads: 2), fromCache)

    // The full network from decoded frames, as a base-mode model is scored. Another batch
    // size than the cache's may move a borderline frame: one frame's worth of slack.
    let fineTuningPass = ModelTrainingPass(mode: .batchNorm)
    let fromFrames = try XCTUnwrap(
      try fineTuningPass.score(outcome.checkpoint, against: outcome, threads: 2))
    XCTAssertEqual(
      fromFrames, outcome.validationAccuracy,
      accuracy: 1 / Double(outcome.validation.count) + 1e-9)
    XCTAssertEqual(try fineTuningPass.score(swapped, against: outcome, threads: 2), fromFrames)

    // Other classes: neither pass can score it.
    var other = outcome.checkpoint
    other.metadata.classLabels = ["fish", "tool"]
    XCTAssertNil(try headPass.score(other, against: outcome, threads: 2))
    XCTAssertNil(try fineTuningPass.score(other, against: outcome, threads: 2))
  }
}
