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
    let cache = try FeatureCache(
      baseWeights: base.tensors, stateFolder: state,
      augmentation: TrainingSettings().cachedAugmentation)
    let made = Shared(base: base, manifest: summary.manifest, stateFolder: state, cache: cache)
    shared = made
    return made
  }

  /// Saved features (plain and augmented copies) come back for the same base and
  /// augmentation (no MobileNet run), and nothing loads for another base, another augmentation
  /// or a damaged file.
  func testSavedFeaturesLoadOnlyForTheSameBaseAndAugmentation() throws {
    let shared = try Self.sharedData()
    let samples = Array(
      try DatasetSplit(manifest: shared.manifest, settings: .init()).training.prefix(6))
    let expected = try shared.cache.features(of: samples)
    let expectedCopy = try shared.cache.features(of: samples, copy: 1)
    let file = try TestFiles.temporaryFolder("features").appendingPathComponent("features.bin")
    try shared.cache.save(to: file)
    let augmentation = try XCTUnwrap(shared.cache.augmentation)
    func cache(base: [String: HostTensor], augmentation: Augmentation?) throws -> FeatureCache {
      try FeatureCache(
        baseWeights: base, stateFolder: shared.stateFolder, augmentation: augmentation)
    }

    let again = try cache(base: shared.base.tensors, augmentation: augmentation)
    XCTAssertGreaterThanOrEqual(again.load(from: file), 2 * samples.count)
    XCTAssertEqual(try again.features(of: samples), expected)
    XCTAssertEqual(try again.features(of: samples, copy: 1), expectedCopy)
    XCTAssertEqual(again.computedCount, 0, "loaded, not computed")

    var otherBase = shared.base.tensors
    let name = "MobilenetV1/Conv2d_0/weights"
    var tensor = otherBase[name]!
    tensor.values[0] += 0.5
    otherBase[name] = tensor
    let other = try cache(base: otherBase, augmentation: augmentation)
    XCTAssertNotEqual(other.baseIdentity, again.baseIdentity)
    XCTAssertEqual(other.load(from: file), 0, "features of another base are not reused")
    var otherAugmentation = augmentation
    otherAugmentation.rotationRange = 10
    XCTAssertEqual(
      try cache(base: shared.base.tensors, augmentation: otherAugmentation).load(from: file), 0,
      "copies drawn by another augmentation are not reused")

    var damaged = try Data(contentsOf: file)
    damaged.removeLast(10)
    try damaged.write(to: file)
    let fresh = try cache(base: shared.base.tensors, augmentation: augmentation)
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
    let computedBefore = shared.cache.computedCount
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
    // Frames are cached once: the cache computed no more than each training frame's copies
    // and the validation frames.
    XCTAssertLessThanOrEqual(
      shared.cache.computedCount - computedBefore,
      (settings.cachedCopies + 1) * result.split.training.count + result.split.validation.count)

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

  /// With augmented copies an epoch is still one pass over the training frames: every frame
  /// once, as one of its copies, and different epochs draw different copies.
  func testAnEpochTrainsEachFrameOnceAsOneOfItsCopies() throws {
    let shared = try Self.sharedData()
    var settings = TrainingSettings()
    settings.augmentedCopies = 2
    settings.batchSize = 4
    var split = try DatasetSplit(manifest: shared.manifest)
    split.training = TrainingSettings.thin(split.training, perClass: 3)
    split.validation = TrainingSettings.thin(split.validation, perClass: 1)
    let classIndex = Dictionary(
      uniqueKeysWithValues: split.labels.enumerated().map { ($1, $0) })
    var batches = try FeatureBatches(
      split: split, classIndex: classIndex,
      classWeights: Array(repeating: 1, count: split.labels.count), cache: shared.cache,
      settings: settings, shouldStop: { false })
    var head = try ClassifierHeadModel(classCount: split.labels.count, seed: 1)
    var random = SeededRandom(seed: 7)
    var drawnRows: [[Int]] = []
    for _ in 0..<3 {
      let steps = try batches.beginEpoch(using: &random)
      XCTAssertEqual(steps, (split.training.count + 3) / 4)
      drawnRows.append(batches.epochRows)
      var examples = 0
      while let (_, count) = try batches.step(head: &head, dropoutSeed: 0) { examples += count }
      XCTAssertEqual(examples, split.training.count)
    }
    let frameCount = split.training.count
    for rows in drawnRows {
      XCTAssertEqual(rows.map { $0 % frameCount }.sorted(), Array(0..<frameCount))
      XCTAssertTrue(rows.allSatisfy { $0 / frameCount <= settings.augmentedCopies })
    }
    XCTAssertNotEqual(Set(drawnRows[0]), Set(drawnRows[1]), "epochs draw other copies")
  }

  /// Progress counts the base network's images up to exactly what is computed (training
  /// frames with their copies, validation frames), before the first epoch; a second training
  /// on the same cache computes nothing.
  func testProgressCountsTheFeaturesThenTheEpochs() throws {
    let shared = try Self.sharedData()
    var settings = TrainingSettings()
    settings.augmentedCopies = 2
    settings.epochs = 2
    settings.maximumFramesPerClass = 2
    settings.threads = 2
    let cache = try FeatureCache(
      baseWeights: shared.base.tensors, stateFolder: shared.stateFolder,
      augmentation: settings.cachedAugmentation, threads: 2)
    func train() throws -> [Trainer.Progress] {
      var seen: [Trainer.Progress] = []
      _ = try Trainer(settings: settings).train(
        manifest: shared.manifest, stateFolder: shared.stateFolder, start: shared.base,
        cache: cache, progress: { seen.append($0) })
      return seen
    }
    let seen = try train()
    let features = seen.filter(\.isComputingFeatures)
    let split = try settings.split(of: shared.manifest)
    let expected = split.training.count * (settings.augmentedCopies + 1) + split.validation.count
    XCTAssertEqual(cache.computedCount, expected)
    XCTAssertEqual(features.last?.featuresComputed, expected)
    XCTAssertTrue(features.allSatisfy { $0.featuresToCompute == expected })
    XCTAssertEqual(
      features.map(\.featuresComputed), features.map(\.featuresComputed).sorted(),
      "counts only go up")
    let firstEpoch = try XCTUnwrap(seen.firstIndex { !$0.isComputingFeatures })
    XCTAssertEqual(firstEpoch, features.count, "features come before the epochs")
    XCTAssertEqual(Set(seen[firstEpoch...].map(\.epoch)), [1, 2])
    XCTAssertTrue(try train().allSatisfy { !$0.isComputingFeatures }, "all features cached")
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
