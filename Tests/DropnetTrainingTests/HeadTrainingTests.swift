import DropnetArchitecture
import DropnetDataset
import DropnetEngine
import DropnetMedia
import DropnetModel
import DropnetTestSupport
import Foundation
import Logging
import XCTest

@testable import DropnetTraining

/// Head training on real cached MobileNet v1 features of the example drop folder
/// (examples/make-examples.sh) with the real ImageNet weights (examples/fetch-weights.sh).
final class HeadTrainingTests: XCTestCase {
  /// Held-out top-1 accuracy the head must reach on a small frame budget (the whole example
  /// gets every held-out photo right; 0.75 leaves room for one or two on 40 frames a class).
  let minimumHeldOutAccuracy = 0.75
  /// Frames per class and side of the split: keeps the debug-build feature pass short.
  let framesPerClass = 40

  private struct Shared: @unchecked Sendable {
    let base: Checkpoint
    let manifest: Manifest
    let stateFolder: URL
    let cache: FeatureCache
  }

  nonisolated(unsafe) private static var shared: Shared?
  private static let lock = NSLock()

  private static var examples: URL { TestFiles.packageRoot.appendingPathComponent("examples") }

  /// The imported weights, the extracted example drop folder and one feature cache over it.
  private static func sharedData() throws -> Shared {
    lock.lock()
    defer { lock.unlock() }
    if let shared { return shared }
    let drop = examples.appendingPathComponent("generated/drop")
    guard FileManager.default.fileExists(atPath: drop.path) else {
      throw TestFiles.Missing("\(drop.path) is missing: run bash examples/make-examples.sh")
    }
    let base = try FineTuneFixtures.imageNetCheckpoint()
    let state = try TestFiles.temporaryFolder("head-state")
    let summary = try DatasetBuilder(
      dropFolder: drop, stateFolder: state, settings: ExtractionSettings(),
      logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    ).run()
    let cache = try FeatureCache(baseWeights: base.tensors, stateFolder: state)
    let made = Shared(base: base, manifest: summary.manifest, stateFolder: state, cache: cache)
    shared = made
    return made
  }

  /// Saved features come back for the same base (no MobileNet run), and nothing loads for
  /// another base or a damaged file.
  func testSavedFeaturesLoadOnlyForTheSameBase() throws {
    let shared = try Self.sharedData()
    let samples = Array(
      try DatasetSplit(manifest: shared.manifest, settings: .init()).training.prefix(6))
    let expected = try shared.cache.features(of: samples)
    let file = try TestFiles.temporaryFolder("features").appendingPathComponent("features.bin")
    try shared.cache.save(to: file)

    let again = try FeatureCache(baseWeights: shared.base.tensors, stateFolder: shared.stateFolder)
    XCTAssertGreaterThanOrEqual(again.load(from: file), samples.count)
    XCTAssertEqual(try again.features(of: samples), expected)
    XCTAssertEqual(again.computedCount, 0, "loaded, not computed")

    var otherBase = shared.base.tensors
    let name = "MobilenetV1/Conv2d_0/weights"
    var tensor = otherBase[name]!
    tensor.values[0] += 0.5
    otherBase[name] = tensor
    let other = try FeatureCache(baseWeights: otherBase, stateFolder: shared.stateFolder)
    XCTAssertNotEqual(other.baseIdentity, again.baseIdentity)
    XCTAssertEqual(other.load(from: file), 0, "features of another base are not reused")

    var damaged = try Data(contentsOf: file)
    damaged.removeLast(10)
    try damaged.write(to: file)
    let fresh = try FeatureCache(baseWeights: shared.base.tensors, stateFolder: shared.stateFolder)
    XCTAssertEqual(fresh.load(from: file), 0, "a truncated file loads nothing")
    XCTAssertEqual(
      fresh.load(from: file.deletingLastPathComponent().appendingPathComponent("none")), 0)
  }

  func testHeadPredictsHeldOutPhotos() throws {
    let shared = try Self.sharedData()
    var settings = TrainingSettings()
    settings.precision = .float32
    settings.epochs = 30
    settings.maximumFramesPerClass = framesPerClass
    let start = Date()
    let result = try Trainer(settings: settings).train(
      manifest: shared.manifest, stateFolder: shared.stateFolder, start: shared.base,
      cache: shared.cache)
    let trainingSeconds = Date().timeIntervalSince(start)
    XCTAssertEqual(result.labels.map(\.name), ["fish", "monument", "tool", "windmill"])
    XCTAssertEqual(result.history.epochs.count, 30)
    let best = try XCTUnwrap(result.history.best(by: .validationLoss))
    XCTAssertEqual(best.epoch, result.bestEpoch)
    // Learning happened: the training loss fell.
    XCTAssertLessThan(result.history.epochs.last!.loss, result.history.epochs.first!.loss)
    // Frames are cached once: the cache computed no more than the split's frames.
    XCTAssertLessThanOrEqual(
      shared.cache.computedCount, result.split.training.count + result.split.validation.count)

    // Through a written and re-read checkpoint, as a predictor would load it.
    let checkpoint = result.checkpoint(from: shared.base)
    let url = try TestFiles.temporaryFolder("head-checkpoint").appendingPathComponent(
      "m.safetensors")
    try checkpoint.write(to: url)
    let loaded = try Checkpoint.read(from: url)
    XCTAssertEqual(loaded.metadata.classLabels, ["fish", "monument", "tool", "windmill"])
    let head = try ClassifierHeadModel(tensors: loaded.tensors)

    // Held-out photos, preprocessed as `dropnet predict` does (PredictCommand.input).
    let heldOut = Self.examples.appendingPathComponent("generated/heldout")
    var paths: [(path: String, label: Int)] = []
    for (index, label) in loaded.metadata.classLabels.enumerated() {
      let folder = heldOut.appendingPathComponent(label)
      for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
      where name.hasSuffix(".jpg") {
        paths.append((folder.appendingPathComponent(name).path, index))
      }
    }
    XCTAssertEqual(paths.count, 12)
    let network = try MobileNetV1(
      weights: Checkpoint.baseTensors(of: loaded.tensors),
      batchSize: paths.count,
      threads: ProcessInfo.processInfo.activeProcessorCount)
    let side = ImagePreprocessor.inputSize
    var images: [[UInt8]] = []
    for (path, _) in paths {
      let image = try Image(contentsOf: path)
      let crop = InputFraming.centerCrop.sourceRectangle(width: image.width, height: image.height)
      let cropped = try ImagePreprocessor.crop(
        image.bytes, width: image.width, height: image.height, to: crop)
      images.append(
        try Image(bytes: cropped, width: crop.width, height: crop.height, channelCount: 3)
          .resized(width: side, height: side).bytes)
    }
    let features = try network.forward(
      ImagePreprocessor.batch(fromBGR: images, width: side, height: side)
    ).features.values
    let predicted = head.predictedClasses(features: features)
    let correct = zip(predicted, paths).filter { $0 == $1.label }.count
    let accuracy = Double(correct) / Double(paths.count)
    let timing =
      String(format: "features %.1f s, ", shared.cache.computeSeconds)
      + String(format: "training+features %.1f s", trainingSeconds)
    let summary =
      "head: held-out top-1 \(correct)/\(paths.count) = \(accuracy); best epoch "
      + "\(result.bestEpoch) val_loss \(best.validationLoss) val_acc \(best.validationAccuracy); "
    print(
      summary + "\(result.split.training.count) train / \(result.split.validation.count) val; "
        + timing)
    XCTAssertGreaterThanOrEqual(accuracy, minimumHeldOutAccuracy, "predicted \(predicted)")
  }

  func testHeadOverfitsATinySubset() throws {
    let shared = try Self.sharedData()
    let split = try DatasetSplit(manifest: shared.manifest)
    let tiny = TrainingSettings.thin(split.training, perClass: 4)
    let labels = split.labels
    let classes = tiny.map { sample in labels.firstIndex(of: sample.label)! }
    let features = try shared.cache.features(of: tiny)
    var head = try ClassifierHeadModel(classCount: labels.count, dropoutRate: 0, seed: 1)
    var last: ClassifierHeadModel.TrainingPass?
    for step in 0..<60 {
      last = head.train(
        features: features, classIndices: classes, classWeights: [1, 1, 1, 1],
        learningRate: 0.01, dropoutSeed: UInt64(step))
    }
    let pass = try XCTUnwrap(last)
    XCTAssertEqual(pass.accuracy, 1, "loss \(pass.loss)")
    XCTAssertLessThan(pass.loss, 0.1)
  }

  func testCacheComputesEachCopyOnceAndAugmentedCopiesAreSeededByContent() throws {
    let shared = try Self.sharedData()
    let frames = TrainingSettings.thin(
      try DatasetSplit(manifest: shared.manifest).training, perClass: 1)
    let make = {
      try FeatureCache(
        baseWeights: shared.base.tensors, stateFolder: shared.stateFolder,
        augmentation: Augmentation())
    }
    let cache = try make()
    let plain = try cache.features(of: frames)
    XCTAssertEqual(plain.count, frames.count * MobileNetV1Architecture.featureCount)
    XCTAssertEqual(cache.computedCount, frames.count)
    XCTAssertEqual(try cache.features(of: frames), plain)
    XCTAssertEqual(cache.computedCount, frames.count, "a second epoch must hit the cache")
    let augmented = try cache.features(of: frames, copy: 1)
    XCTAssertEqual(cache.computedCount, 2 * frames.count)
    XCTAssertNotEqual(augmented, plain)
    // A fresh cache draws the same augmentation for the same content and copy.
    XCTAssertEqual(try make().features(of: frames, copy: 1), augmented)
    let noAugmentation = try FeatureCache(
      baseWeights: shared.base.tensors, stateFolder: shared.stateFolder)
    XCTAssertThrowsError(try noAugmentation.features(of: frames, copy: 1))
  }

  func testWarmStartBeginsBelowAColdStartAndKeepsTheCheckpointsClassOrder() throws {
    let shared = try Self.sharedData()
    var settings = TrainingSettings()
    settings.precision = .float32
    settings.epochs = 8
    settings.maximumFramesPerClass = framesPerClass
    let cold = try Trainer(settings: settings).train(
      manifest: shared.manifest, stateFolder: shared.stateFolder, start: shared.base,
      cache: shared.cache)
    let checkpoint = cold.checkpoint(from: shared.base)

    // A checkpoint whose classes are in another order than the folders' (as after an
    // earlier warm start that added classes): the run must keep that order.
    let reversed = cold.labels.map(\.name).reversed().map { $0 }
    var permuted = checkpoint
    permuted.tensors.merge(
      try ClassifierHeadModel(initialisedFrom: checkpoint, labels: reversed).tensors
    ) { _, new in new }
    permuted.metadata.classLabels = reversed

    settings.epochs = 2
    let warm = try Trainer(settings: settings).train(
      manifest: shared.manifest, stateFolder: shared.stateFolder, start: shared.base,
      warmStart: permuted, cache: shared.cache)
    XCTAssertEqual(warm.labels.map(\.name), reversed)
    let coldFirst = cold.history.epochs[0].validationLoss
    let warmFirst = warm.history.epochs[0].validationLoss
    print("first-epoch validation loss: cold \(coldFirst), warm-started \(warmFirst)")
    XCTAssertLessThan(warmFirst, coldFirst)

    // The report of the warm run: its class order, counts and a confusion matrix that
    // tallies every validation frame.
    let report = TrainingReport(
      result: warm, settings: TrainingReport.Settings(settings))
    XCTAssertEqual(report.labels, reversed)
    XCTAssertEqual(report.classes.map(\.label), reversed)
    XCTAssertEqual(report.confusionMatrix.joined().reduce(0, +), warm.split.validation.count)
    XCTAssertEqual(report.classes.map(\.validationFrames).reduce(0, +), warm.split.validation.count)
    XCTAssertEqual(report.classes.map(\.trainingFrames).reduce(0, +), warm.split.training.count)
    XCTAssertEqual(report.datasetHash, cold.datasetHash, "the same frames and labels")
    XCTAssertEqual(report.timings.epochs.count, 2)
    let diagonal = reversed.indices.map { report.confusionMatrix[$0][$0] }.reduce(0, +)
    XCTAssertEqual(
      Double(diagonal) / Double(warm.split.validation.count),
      warm.history.epochs[warm.bestEpoch - 1].validationAccuracy, accuracy: 1e-12)
    let json = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: report.encoded()) as? [String: Any])
    for key in [
      "classes", "confusionMatrix", "datasetHash", "settings", "timings", "bestEpoch", "labels",
    ] {
      XCTAssertNotNil(json[key], key)
    }
  }
}
