import DropnetArchitecture
import DropnetDataset
import DropnetEngine
import DropnetModel
import Foundation

/// Fine-tunes the MobileNet v1 base together with the seed's head (`--fine-tune bn`, `top:K`,
/// `all`): frames decoded and augmented on the fly by a `BatchLoader` worker while the engine
/// computes, SGD with momentum on the head and the trained base tensors, validation at
/// inference (moving statistics, no dropout) after every epoch, and the epoch with the lowest
/// validation loss kept. `HeadTrainer` is the sibling for `head`, on cached features.
///
/// Per step: base forward in batch-statistics mode -> features [N, 1024] -> head training pass
/// (weighted cross-entropy, dropout) -> d features -> base backward -> SGD updates of both.
/// Every step has exactly `batchSize` images (oneDNN fixes the batch when it builds the
/// network): an epoch's shuffled order is topped up with its own first frames.
/// Deterministic given `seed` on one thread.
public struct FineTuner {
  /// What to train and how: the settings shared with `HeadTrainer` (read as this struct's own,
  /// e.g. `settings.epochs`) plus the mode, augmentation and threads.
  @dynamicMemberLookup
  public struct Settings: Sendable, Hashable {
    /// What of the base trains (not `.head`: that is `HeadTrainer`).
    public var mode = FineTuneMode.batchNorm
    /// Epochs, optimiser, head, frames and seed. Images per SGD step 16: measured as fast as
    /// 32 per image (`dropnet bench train`) at half the memory: ~0.67 GB resident in `bn`
    /// mode, ~1.3 GB in `all` (~29 and ~40 MB of kept activations per image).
    public var training = TrainingSettings(batchSize: 16)
    /// Augmentation drawn anew for every image of every epoch (nil = plain frames).
    public var augmentation: Augmentation? = Augmentation()
    /// OpenMP threads of the engine (the machine's cores by default).
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    public init() {}

    public subscript<Value>(dynamicMember field: WritableKeyPath<TrainingSettings, Value>)
      -> Value
    {
      get { training[keyPath: field] }
      set { training[keyPath: field] = newValue }
    }

    /// Throws `.invalidSetting` naming the first bad value.
    public func validate() throws {
      guard mode != .head else {
        throw TrainingError(
          .invalidSetting, "fine-tune mode head trains on cached features: use HeadTrainer")
      }
      try training.validate()
      guard threads >= 1 else {
        throw TrainingError(.invalidSetting, "threads must be at least 1, got \(threads)")
      }
      try augmentation?.validate()
    }
  }

  /// What training produced: what a head-only run also has (`head`, read as this struct's
  /// own fields, e.g. `result.labels`), plus the trained base tensors and the step figures.
  @dynamicMemberLookup
  public struct Result: Sendable {
    /// Classes, history, kept epoch, its head, split and validation predictions, as
    /// `HeadTrainer` gives them (`featureSeconds` 0: nothing is cached).
    public var head: HeadTrainer.Result
    /// The base's tensors that changed, as they were after `bestEpoch` (TF-slim names and
    /// layouts): gamma, beta, moving mean and variance of every layer, and the weights of the
    /// trained convolutions. The frozen weights are the ones training started from.
    public var bestBaseTensors: [String: HostTensor]
    /// Training images per second of the steps (forward, backward, update), all epochs.
    public var trainingImagesPerSecond: Double
    /// Seconds the steps waited for the batch loader's worker, all epochs.
    public var loaderWaitSeconds: Double

    public subscript<Value>(dynamicMember field: KeyPath<HeadTrainer.Result, Value>) -> Value {
      head[keyPath: field]
    }
  }

  /// Where a running training is, for progress display.
  public struct Progress: Sendable {
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var steps: Int
    /// Mean training loss of the epoch so far.
    public var loss: Double
  }

  public var settings: Settings

  public init(settings: Settings = Settings()) { self.settings = settings }

  /// Splits `manifest`'s kept frames (read from `stateFolder`) and fine-tunes `baseWeights`
  /// (TF-slim MobileNet v1 tensors as imported, ImageNet logits included; head tensors are
  /// ignored) with a new head, or with `warmStart`'s head (an earlier run's checkpoint: its
  /// class order, classes added or dropped as `HeadTrainer` does; pass its tensors as
  /// `baseWeights` to continue its base too). `progress` is called after every step;
  /// `shouldStop` is asked before every step, and a true answer ends training with a
  /// `.cancelled` error (a batch boundary: the weights are never half-updated).
  public func train(
    manifest: Manifest, stateFolder: URL, baseWeights: [String: HostTensor],
    warmStart: Checkpoint? = nil, progress: ((Progress) -> Void)? = nil,
    shouldStop: (() -> Bool)? = nil
  ) throws -> Result {
    try settings.validate()
    let baseWeights = Checkpoint.baseTensors(of: baseWeights)
    let split = try settings.training.split(of: manifest)
    guard split.training.count >= 2, !split.validation.isEmpty else {
      throw TrainingError(
        .tooFewFrames,
        "\(split.training.count) training and \(split.validation.count) validation frames: "
          + "fine-tuning needs at least 2 and 1; add frames or movies")
    }
    let labels = TrainingSettings.outputOrder(of: split.labels, warmStart: warmStart)
    let classWeights = try settings.training.classWeights(labels: labels, training: split.training)
    let network = try MobileNetV1Trainable(
      weights: baseWeights, batchSize: settings.batchSize, threads: settings.threads,
      trainedConvolutionCount: settings.mode.trainedConvolutionCount ?? 0)
    var head = try settings.training.initialHead(
      labels: labels, featureCount: MobileNetV1Architecture.featureCount, warmStart: warmStart)
    var random = SeededRandom(seed: settings.seed ^ 0xF1_4E70_4E00_0000)
    var history = TrainingHistory()
    var best:
      (
        epoch: Int, loss: Double, head: ClassifierHeadModel, base: [String: HostTensor],
        predictions: [Int]
      )?
    var stepSeconds = 0.0
    var stepImages = 0
    var waited = 0.0
    for epoch in 1...settings.epochs {
      let start = DispatchTime.now().uptimeNanoseconds
      let order = Self.epochOrder(split.training, batchSize: settings.batchSize, using: &random)
      let loader = try BatchLoader(
        samples: order, labels: labels, stateFolder: stateFolder, batchSize: settings.batchSize,
        augmentation: settings.augmentation, shuffle: false, seed: random.next())
      var lossSum = 0.0
      var correctSum = 0.0
      var step = 0
      while let batch = try loader.next() {
        if shouldStop?() == true {
          throw TrainingError(.cancelled, "fine-tuning stopped at epoch \(epoch), step \(step)")
        }
        let stepStart = DispatchTime.now().uptimeNanoseconds
        let pass = try Self.step(
          network: network, head: &head, images: batch.images, classIndices: batch.classIndices,
          classWeights: classWeights, settings: settings, dropoutSeed: random.next())
        stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - stepStart) / 1e9
        stepImages += batch.classIndices.count
        lossSum += pass.loss * Double(batch.classIndices.count)
        correctSum += pass.accuracy * Double(batch.classIndices.count)
        step += 1
        progress?(
          Progress(
            epoch: epoch, epochs: settings.epochs, step: step, steps: loader.batchCount,
            loss: lossSum / Double(step * settings.batchSize)))
      }
      waited += loader.waitedSeconds
      let baseTensors = try network.tensors(includingFrozen: false)
      let validation = try Self.evaluate(
        split.validation, labels: labels, classWeights: classWeights,
        baseWeights: baseWeights.merging(baseTensors) { _, new in new }, head: head,
        stateFolder: stateFolder, settings: settings)
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      let examples = Double(order.count)
      history.append(
        TrainingHistory.Epoch(
          epoch: epoch, loss: lossSum / examples, accuracy: correctSum / examples,
          validationLoss: validation.loss, validationAccuracy: validation.accuracy,
          learningRate: settings.learningRate, seconds: seconds))
      if best == nil || validation.loss < best!.loss {
        best = (
          epoch, validation.loss, head, baseTensors,
          head.predictedClasses(features: validation.features)
        )
      }
    }
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    let datasetHash = TrainingReport.datasetHash(
      labels: labels.map(\.name),
      frames: try (split.training + split.validation).map {
        (try FileFingerprint.contentHash(path: $0.url(in: stateFolder).path), $0.label.name)
      })
    let headResult = HeadTrainer.Result(
      labels: labels, history: history, bestEpoch: best!.epoch, bestHead: best!.head,
      split: split, validationClasses: split.validation.map { classIndex[$0.label]! },
      validationPredictions: best!.predictions, datasetHash: datasetHash, featureSeconds: 0)
    return Result(
      head: headResult, bestBaseTensors: best!.base,
      trainingImagesPerSecond: Double(stepImages) / max(stepSeconds, 1e-9),
      loaderWaitSeconds: waited)
  }

  /// One SGD step of base and head on a batch: base forward (batch statistics) -> head
  /// forward and backward -> base backward from the features' gradient -> both updated.
  /// Returns the head's pass (loss and accuracy before the update).
  public static func step(
    network: MobileNetV1Trainable, head: inout ClassifierHeadModel, images: HostTensor,
    classIndices: [Int], classWeights: [Double], settings: Settings, dropoutSeed: UInt64
  ) throws -> ClassifierHeadModel.TrainingPass {
    let features = try network.forward(images)
    let pass = head.train(
      features: features.values, classIndices: classIndices, classWeights: classWeights,
      learningRate: settings.learningRate, momentum: settings.momentum,
      weightDecay: settings.weightDecay, dropoutSeed: dropoutSeed, computeFeatureGradients: true)
    try network.backward(
      featureGradients: HostTensor(
        shape: features.shape, values: pass.featureGradients.map(Float.init)))
    network.update(
      learningRate: Float(settings.learningRate), momentum: Float(settings.momentum),
      weightDecay: Float(settings.weightDecay))
    return pass
  }

  /// The training frames in a seeded random order, topped up with the order's own first
  /// frames to a whole number of batches.
  static func epochOrder(
    _ samples: [TrainingSample], batchSize: Int, using random: inout SeededRandom
  ) -> [TrainingSample] {
    var order = samples
    random.shuffle(&order)
    let target = (order.count + batchSize - 1) / batchSize * batchSize
    var index = 0
    while order.count < target {
      order.append(order[index % samples.count])
      index += 1
    }
    return order
  }

  /// Weighted loss and accuracy of the plain (unaugmented) validation frames through the
  /// inference network (batch norm folded with the moving statistics) and the head.
  static func evaluate(
    _ samples: [TrainingSample], labels: [Label], classWeights: [Double],
    baseWeights: [String: HostTensor], head: ClassifierHeadModel, stateFolder: URL,
    settings: Settings
  ) throws -> (loss: Double, accuracy: Double, features: [Float]) {
    // Inference needs no kept activations, and the training network's are still alive:
    // batches of at most 16 keep this network's buffers near 100 MB.
    let batchSize = min(settings.batchSize, 16)
    let network = try MobileNetV1(
      weights: baseWeights, batchSize: batchSize, threads: settings.threads)
    let loader = try BatchLoader(
      samples: samples, labels: labels, stateFolder: stateFolder, batchSize: batchSize,
      augmentation: nil, shuffle: false)
    var features: [Float] = []
    var classes: [Int] = []
    while let batch = try loader.next() {
      features += try network.forward(batch.images).features.values
      classes += batch.classIndices
    }
    let figures = head.evaluate(
      features: features, classIndices: classes, classWeights: classWeights)
    return (figures.loss, figures.accuracy, features)
  }

  /// The accuracy of `checkpoint` (its own base and head, its classes in its order) on
  /// `samples`, at inference in batches as validation in training runs; nil when there are no
  /// samples or one's class is not the checkpoint's.
  public static func accuracy(
    of checkpoint: Checkpoint, on samples: [TrainingSample], stateFolder: URL, threads: Int
  ) throws -> Double? {
    let labels = try checkpoint.metadata.classLabels.map { try Label(validating: $0) }
    guard !samples.isEmpty, Set(samples.map(\.label)).isSubset(of: labels) else { return nil }
    var settings = Settings()
    settings.threads = threads
    return try evaluate(
      samples, labels: labels, classWeights: Array(repeating: 1, count: labels.count),
      baseWeights: Checkpoint.baseTensors(of: checkpoint.tensors),
      head: try ClassifierHeadModel(tensors: checkpoint.tensors), stateFolder: stateFolder,
      settings: settings
    ).accuracy
  }

  /// `base` with its MobileNet tensors replaced by the trained ones of `result` (head tensors
  /// dropped): what `HeadTrainer.checkpoint(base:head:labels:extra:)` then completes.
  public static func trainedBase(_ base: Checkpoint, _ result: Result) -> Checkpoint {
    var trained = base
    trained.tensors = Checkpoint.baseTensors(of: base.tensors)
    trained.tensors.merge(result.bestBaseTensors) { _, new in new }
    return trained
  }

  /// A checkpoint of `base` (the weights training started from, metadata included) with the
  /// trained base tensors and head of `result`, labels in training order.
  public static func checkpoint(
    base: Checkpoint, result: Result, extra: [String: String] = [:]
  ) -> Checkpoint {
    HeadTrainer.checkpoint(
      base: trainedBase(base, result), head: result.bestHead, labels: result.labels,
      extra: extra)
  }
}
