import DropnetDataset
import DropnetEngine
import DropnetModel
import DropnetTestSupport
import Foundation
import XCTest

@testable import DropnetTraining

/// The base modes of `Trainer` end to end on real frames (TrainingFixtures' street clips) with the real ImageNet
/// weights: a tiny subset overfits in batch-norm mode, and the checkpoint carries the trained
/// base so the inference network reproduces what training validated.
final class FineTuneTests: XCTestCase {
  /// bn mode on 4 frames per class and side, batch 4, plain frames, no dropout and a large
  /// step: small enough to overfit in a few epochs.
  static func tinyOverfitSettings(epochs: Int) -> TrainingSettings {
    var settings = TrainingSettings(mode: .batchNorm)
    settings.epochs = epochs
    settings.batchSize = 4
    settings.learningRate = 0.01
    settings.dropoutRate = 0
    settings.augmentation = nil
    settings.maximumFramesPerClass = 4
    settings.threads = 2
    return settings
  }

  func testBatchNormModeOverfitsTinySubsetAndCheckpointsTheTrainedBase() throws {
    let dataset = try TrainingFixtures.dataset()
    let weights = try FineTuneFixtures.imageNet()
    let settings = Self.tinyOverfitSettings(epochs: 8)
    let result = try Trainer(settings: settings).train(
      manifest: dataset.manifest, stateFolder: dataset.stateFolder,
      start: try FineTuneFixtures.imageNetCheckpoint())
    XCTAssertEqual(result.labels.map(\.name), ["street", "walkers"])
    XCTAssertEqual(result.split.training.count, 8)
    XCTAssertEqual(result.history.epochs.count, 8)
    // Overfit: every training frame right by the end, and the loss far below chance (ln 2).
    let last = result.history.epochs.last!
    XCTAssertEqual(last.accuracy, 1, "training accuracy of the last epoch")
    XCTAssertLessThan(last.loss, 0.2)
    XCTAssertLessThan(last.loss, result.history.epochs.first!.loss)
    XCTAssertEqual(result.bestEpoch, result.history.best(by: .validationLoss)!.epoch)

    // The trained base: gammas moved, frozen convolution weights did not come back at all.
    let gammaName = "MobilenetV1/Conv2d_13_pointwise/BatchNorm/gamma"
    XCTAssertNotEqual(result.bestBaseTensors[gammaName], weights[gammaName])
    XCTAssertNil(result.bestBaseTensors["MobilenetV1/Conv2d_13_pointwise/weights"])

    // Written and read back: base tensors replaced, head added, labels in order; the
    // inference network built from it gives the validation loss training recorded.
    let base = try FineTuneFixtures.imageNetCheckpoint()
    let url = try TestFiles.temporaryFolder("finetune-checkpoint").appendingPathComponent(
      "best.safetensors")
    try result.checkpoint(from: base).write(to: url)
    let read = try Checkpoint.read(from: url)
    XCTAssertEqual(read.metadata.classLabels, ["street", "walkers"])
    XCTAssertEqual(read.tensors[gammaName], result.bestBaseTensors[gammaName])
    let head = try ClassifierHeadModel(tensors: read.tensors)
    let classWeights = try ClassBalance(labels: result.labels, samples: result.split.training)
      .lossWeights()
    let features = try ImageBatches.features(
      of: result.split.validation, labels: result.labels, baseWeights: read.baseTensors,
      stateFolder: dataset.stateFolder, framing: settings.framing,
      batchSize: settings.resolvedBatchSize, threads: settings.threads,
      precision: settings.precision)
    let validation = head.evaluate(
      features: features, classIndices: result.validationClasses, classWeights: classWeights)
    let best = result.history.epochs[result.bestEpoch - 1]
    XCTAssertEqual(validation.loss, best.validationLoss, accuracy: 1e-3 * best.validationLoss)
    XCTAssertEqual(validation.accuracy, best.validationAccuracy)
  }

  /// Same seed, one thread: the same batches, augmentation draws, dropout masks and sums, so
  /// the same numbers bit for bit.
  func testDeterministicOnOneThread() throws {
    let dataset = try TrainingFixtures.dataset()
    var settings = TrainingSettings(mode: .batchNorm)
    settings.epochs = 1
    settings.batchSize = 4
    settings.maximumFramesPerClass = 3
    settings.threads = 1
    settings.seed = 11
    let runs = try (0..<2).map { _ in
      try Trainer(settings: settings).train(
        manifest: dataset.manifest, stateFolder: dataset.stateFolder,
        start: try FineTuneFixtures.imageNetCheckpoint())
    }
    let (first, second) = (runs[0].history.epochs[0], runs[1].history.epochs[0])
    XCTAssertEqual(first.loss, second.loss)
    XCTAssertEqual(first.validationLoss, second.validationLoss)
    XCTAssertEqual(runs[0].bestBaseTensors, runs[1].bestBaseTensors)
    XCTAssertEqual(runs[0].bestHead.parameters, runs[1].bestHead.parameters)
  }

  /// A warm start continues an earlier run's base and head (its first epoch validates far
  /// better than a cold first epoch), and `shouldStop` ends a run before the next step.
  func testWarmStartContinuesAndStopEndsAtABatchBoundary() throws {
    let dataset = try TrainingFixtures.dataset()
    let base = try FineTuneFixtures.imageNetCheckpoint()
    var settings = Self.tinyOverfitSettings(epochs: 4)
    let cold = try Trainer(settings: settings).train(
      manifest: dataset.manifest, stateFolder: dataset.stateFolder, start: base)
    let earlier = cold.checkpoint(from: base)

    settings.epochs = 1
    let warm = try Trainer(settings: settings).train(
      manifest: dataset.manifest, stateFolder: dataset.stateFolder, start: earlier,
      warmStart: earlier)
    XCTAssertEqual(warm.labels.map(\.name), earlier.metadata.classLabels)
    XCTAssertLessThan(
      warm.history.epochs[0].validationLoss, cold.history.epochs[0].validationLoss,
      "a warm start begins where the earlier run ended")

    var asked = 0
    XCTAssertThrowsError(
      try Trainer(settings: settings).train(
        manifest: dataset.manifest, stateFolder: dataset.stateFolder, start: base,
        shouldStop: {
          asked += 1
          return asked == 2
        })
    ) { error in
      XCTAssertEqual((error as? TrainingError)?.code, .cancelled, "\(error)")
    }
    XCTAssertEqual(asked, 2, "asked before each step; stopped before the second")
  }

  func testModesParse() {
    XCTAssertEqual(FineTuneMode("head"), .head)
    XCTAssertEqual(FineTuneMode("bn"), .batchNorm)
    XCTAssertEqual(FineTuneMode("top:3"), .topBlocks(3))
    XCTAssertEqual(FineTuneMode("all"), .all)
    for bad in ["top:0", "top:14", "top:", "top:02", "top:+2", "BN", ""] {
      XCTAssertNil(FineTuneMode(bad), bad)
    }
    XCTAssertEqual(FineTuneMode.topBlocks(3).trainedConvolutionCount, 6)
    XCTAssertEqual(FineTuneMode.all.trainedConvolutionCount, 27)
    XCTAssertEqual(FineTuneMode.batchNorm.description, "bn")
  }
}
