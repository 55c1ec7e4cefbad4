import DropnetArchitecture
import DropnetDataset
import DropnetEngine
import DropnetModel
import Foundation

/// Trains the seed's classifier head on MobileNet v1, and the base too in the base modes: one
/// epoch loop for every `FineTuneMode`, over a `BatchSource` (cached features of the frozen
/// base for `head`, live augmented images for `bn`, `top:K`, `all`).
///
/// Per epoch: the training frames in a seeded shuffled order, SGD steps with per-class loss
/// weights (`ClassBalance.lossWeights`), then the weighted loss and accuracy of the plain
/// validation frames at inference (running batch-norm statistics, no dropout). The epoch with
/// the lowest validation loss is kept. `shouldStop` is asked before every step: a true answer
/// ends training with a `.cancelled` error at a batch boundary (the weights are never
/// half-updated, and nothing is returned). Deterministic given the seed on one thread.
public struct Trainer {
  /// Where a running training is, for progress display: computing the base's features of
  /// the frames (head mode, `epoch` 0), then training.
  public struct Progress: Sendable {
    /// 0 while features are computed, then 1...epochs.
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var steps: Int
    /// Mean training loss of the epoch so far.
    public var loss: Double
    /// Head mode: images (frames and their augmented copies) the base network has run on so
    /// far, of `featuresToCompute` not yet in the feature cache.
    public var featuresComputed = 0
    public var featuresToCompute = 0

    /// Whether features are being computed (no epoch has started).
    public var isComputingFeatures: Bool { epoch == 0 }
  }

  public var settings: TrainingSettings

  public init(settings: TrainingSettings = TrainingSettings()) { self.settings = settings }

  /// Splits `manifest`'s kept frames (in `stateFolder`) and trains from `start`: a checkpoint
  /// whose base is trained further (the imported ImageNet weights, or an earlier run's
  /// checkpoint). With `warmStart` (an earlier run's checkpoint, e.g. the daemon's published
  /// one) the head continues from its head and the class order is its order: kept classes keep
  /// their outputs, new classes are added after them, removed ones are dropped; pass the same
  /// checkpoint as `start` to continue its base too.
  ///
  /// The head mode computes base features through `cache` (made from `start` when nil; the
  /// daemon keeps one across runs).
  public func train(
    manifest: Manifest, stateFolder: URL, start: Checkpoint, warmStart: Checkpoint? = nil,
    cache: FeatureCache? = nil, progress: ((Progress) -> Void)? = nil,
    shouldStop: @escaping () -> Bool = { false }
  ) throws -> TrainingResult {
    try settings.validate()
    let split = try settings.split(of: manifest)
    let labels = TrainingSettings.outputOrder(of: split.labels, warmStart: warmStart)
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    let classWeights = try settings.classWeights(labels: labels, training: split.training)
    var source: BatchSource
    var randomSalt: UInt64
    let contentHashes: [String]
    if settings.mode == .head {
      let cache =
        try cache
        ?? FeatureCache(
          baseWeights: start.baseTensors, stateFolder: stateFolder, framing: settings.framing,
          augmentation: settings.cachedAugmentation, threads: settings.threads,
          precision: settings.precision)
      if settings.cachedCopies > 0 && cache.augmentation != settings.augmentation {
        throw TrainingError(
          .invalidSetting,
          "the feature cache augments copies differently from the settings (or not at all)")
      }
      guard cache.framing == settings.framing, cache.precision == settings.precision else {
        throw TrainingError(
          .invalidSetting,
          "the feature cache frames images as \(cache.framing) in \(cache.precision), the "
            + "settings as \(settings.framing) in \(settings.precision)")
      }
      source = try FeatureBatches(
        split: split, classIndex: classIndex, classWeights: classWeights, cache: cache,
        settings: settings, shouldStop: shouldStop
      ) { computed, total in
        progress?(
          Progress(
            epoch: 0, epochs: settings.epochs, step: 0, steps: 0, loss: .nan,
            featuresComputed: computed, featuresToCompute: total))
      }
      randomSalt = 0x5EED_0F0B_A7C4_0000
      contentHashes = try (split.training + split.validation).map { try cache.contentHash(of: $0) }
    } else {
      source = try ImageBatches(
        split: split, labels: labels, classWeights: classWeights, stateFolder: stateFolder,
        baseWeights: start.baseTensors, settings: settings)
      randomSalt = 0xF1_4E70_4E00_0000
      contentHashes = try (split.training + split.validation).map {
        try FileFingerprint.contentHash(path: $0.url(in: stateFolder).path)
      }
    }

    var head = try settings.initialHead(
      labels: labels, featureCount: MobileNetV1Architecture.featureCount, warmStart: warmStart)
    var random = SeededRandom(seed: settings.seed ^ randomSalt)
    var history = TrainingHistory()
    var best:
      (
        epoch: Int, loss: Double, head: ClassifierHeadModel, base: [String: HostTensor],
        predictions: [Int]
      )?
    let validationClasses = split.validation.map { classIndex[$0.label]! }
    for epoch in 1...settings.epochs {
      let start = DispatchTime.now().uptimeNanoseconds
      let steps = try source.beginEpoch(using: &random)
      var lossSum = 0.0
      var correctSum = 0.0
      var examples = 0
      var step = 0
      while true {
        if shouldStop() {
          throw TrainingError(.cancelled, "training stopped at epoch \(epoch), step \(step)")
        }
        guard let (pass, count) = try source.step(head: &head, dropoutSeed: random.next()) else {
          break
        }
        lossSum += pass.loss * Double(count)
        correctSum += pass.accuracy * Double(count)
        examples += count
        step += 1
        progress?(
          Progress(
            epoch: epoch, epochs: settings.epochs, step: step, steps: steps,
            loss: lossSum / Double(examples)))
      }
      let features = try source.validationFeatures()
      let validation = head.evaluate(
        features: features, classIndices: validationClasses, classWeights: classWeights)
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      history.append(
        TrainingHistory.Epoch(
          epoch: epoch, loss: lossSum / Double(max(examples, 1)),
          accuracy: correctSum / Double(max(examples, 1)), validationLoss: validation.loss,
          validationAccuracy: validation.accuracy, learningRate: settings.resolvedLearningRate,
          seconds: seconds))
      if best == nil || validation.loss < best!.loss {
        best = (
          epoch, validation.loss, head, try source.trainedBaseTensors(),
          head.predictedClasses(features: features)
        )
      }
    }
    let datasetHash = TrainingReport.datasetHash(
      labels: labels.map(\.name),
      frames: zip(contentHashes, (split.training + split.validation).map(\.label.name)).map {
        ($0, $1)
      })
    return TrainingResult(
      mode: settings.mode, framing: settings.framing, labels: labels, history: history,
      bestEpoch: best!.epoch,
      bestHead: best!.head, bestBaseTensors: best!.base, split: split,
      validationClasses: validationClasses, validationPredictions: best!.predictions,
      datasetHash: datasetHash, featureSeconds: source.featureSeconds,
      trainingImagesPerSecond: Double(source.stepImages) / max(source.stepSeconds, 1e-9),
      loaderWaitSeconds: source.waitedSeconds)
  }

  /// The accuracy of `checkpoint` (its own base and head, its classes in its order) on the
  /// plain `samples`, at inference as validation runs; nil when there are no samples or one's
  /// class is not the checkpoint's.
  public static func accuracy(
    of checkpoint: Checkpoint, on samples: [TrainingSample], stateFolder: URL, threads: Int,
    precision: Precision = .float32
  ) throws -> Double? {
    let labels = try checkpoint.metadata.classLabels.map { try Label(validating: $0) }
    guard !samples.isEmpty, Set(samples.map(\.label)).isSubset(of: labels) else { return nil }
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    let features = try ImageBatches.features(
      of: samples, labels: labels, baseWeights: checkpoint.baseTensors, stateFolder: stateFolder,
      framing: InputFraming(checkpoint: checkpoint), batchSize: 16, threads: threads,
      precision: precision)
    return try ClassifierHeadModel(tensors: checkpoint.tensors).evaluate(
      features: features, classIndices: samples.map { classIndex[$0.label]! },
      classWeights: Array(repeating: 1, count: labels.count)
    ).accuracy
  }

  /// One SGD step of base and head on a batch: base forward (batch statistics) -> head
  /// forward and backward -> base backward from the features' gradient -> both updated.
  /// Returns the head's pass (loss and accuracy before the update).
  public static func step(
    network: MobileNetV1Trainable, head: inout ClassifierHeadModel, images: HostTensor,
    classIndices: [Int], classWeights: [Double], settings: TrainingSettings, dropoutSeed: UInt64
  ) throws -> ClassifierHeadModel.TrainingPass {
    let features = try network.forward(images)
    let pass = head.train(
      features: features.values, classIndices: classIndices, classWeights: classWeights,
      learningRate: settings.resolvedLearningRate, momentum: settings.momentum,
      weightDecay: settings.weightDecay, dropoutSeed: dropoutSeed, computeFeatureGradients: true)
    try network.backward(
      featureGradients: HostTensor(
        shape: features.shape, values: pass.featureGradients.map(Float.init)))
    network.update(
      learningRate: Float(settings.resolvedLearningRate), momentum: Float(settings.momentum),
      weightDecay: Float(settings.weightDecay))
    return pass
  }
}
