import DropnetArchitecture
import DropnetDataset
import DropnetEngine
import DropnetModel
import Foundation

/// Trains only the classifier head on cached MobileNet v1 features (the frozen base runs once
/// per frame and copy, not once per epoch), validating every epoch and keeping the epoch with
/// the lowest validation loss.
///
/// Per epoch: the training frames (times `augmentedCopies + 1` cached copies) in a seeded
/// shuffled order, SGD steps of `batchSize` with per-class loss weights
/// (`ClassBalance.lossWeights`), then the weighted loss and accuracy of the plain validation
/// frames at inference (running BatchNorm statistics, no dropout).
public struct HeadTrainer {
  /// What to train and how: the settings shared with `FineTuner` (read as this struct's own,
  /// e.g. `settings.epochs`) plus the cached augmented copies.
  @dynamicMemberLookup
  public struct Settings: Sendable, Hashable {
    /// Epochs, optimiser, head, frames and seed; examples per SGD step 32 (Keras' default).
    public var training = TrainingSettings(batchSize: 32)
    /// Augmented cached copies per training frame besides the plain one (0 = no augmentation).
    public var augmentedCopies = 0
    /// The augmentation of those copies.
    public var augmentation = Augmentation()

    public init() {}

    public subscript<Value>(dynamicMember field: WritableKeyPath<TrainingSettings, Value>)
      -> Value
    {
      get { training[keyPath: field] }
      set { training[keyPath: field] = newValue }
    }

    /// Throws `.invalidSetting` naming the first bad value.
    public func validate() throws {
      try training.validate()
      guard augmentedCopies >= 0 else {
        throw TrainingError(.invalidSetting, "augmented copies must be 0 or more")
      }
    }
  }

  /// What training produced.
  public struct Result: Sendable {
    /// The classes in network order (index i = output i).
    public var labels: [Label]
    /// Every epoch's numbers.
    public var history: TrainingHistory
    /// The epoch (1-based) with the lowest validation loss.
    public var bestEpoch: Int
    /// The head as it was after `bestEpoch`.
    public var bestHead: ClassifierHeadModel
    /// The split used (after `maximumFramesPerClass`).
    public var split: DatasetSplit
    /// Class index (into `labels`) of each validation frame, in `split.validation` order.
    public var validationClasses: [Int]
    /// The best head's predicted class of each validation frame, same order.
    public var validationPredictions: [Int]
    /// `TrainingReport.datasetHash` of the frames used (both sides) and their labels.
    public var datasetHash: String
    /// Seconds spent computing base features (cache misses) during this run.
    public var featureSeconds: Double
  }

  public var settings: Settings

  public init(settings: Settings = Settings()) { self.settings = settings }

  /// Splits `manifest`'s kept frames, caches their features with `cache` and trains the head.
  ///
  /// With `warmStart` (a checkpoint from an earlier run, e.g. the daemon's last best), the
  /// head continues from that checkpoint's head and the class order is the checkpoint's
  /// (`ClassifierHeadModel.warmStartLabelOrder`): kept classes keep their outputs, new
  /// classes are added after them, removed ones are dropped.
  public func train(
    manifest: Manifest, cache: FeatureCache, warmStart: Checkpoint? = nil
  ) throws -> Result {
    try settings.validate()
    if settings.augmentedCopies > 0 && cache.augmentation == nil {
      throw TrainingError(
        .invalidSetting, "augmented copies need a FeatureCache made with an augmentation")
    }
    let split = try settings.training.split(of: manifest)
    let labels = TrainingSettings.outputOrder(of: split.labels, warmStart: warmStart)
    let featureSecondsBefore = cache.computeSeconds
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    let classWeights = try settings.training.classWeights(labels: labels, training: split.training)

    // Training examples: every copy of every training frame, features cached once.
    let width = MobileNetV1Architecture.featureCount
    var trainingFeatures: [Float] = []
    var trainingClasses: [Int] = []
    for copy in 0...settings.augmentedCopies {
      trainingFeatures += try cache.features(of: split.training, copy: copy)
      trainingClasses += split.training.map { classIndex[$0.label]! }
    }
    let validationFeatures = try cache.features(of: split.validation)
    let validationClasses = split.validation.map { classIndex[$0.label]! }

    var head = try settings.training.initialHead(
      labels: labels, featureCount: width, warmStart: warmStart)
    var random = SeededRandom(seed: settings.seed ^ 0x5EED_0F0B_A7C4_0000)
    var history = TrainingHistory()
    var best: (epoch: Int, loss: Double, head: ClassifierHeadModel)?
    for epoch in 1...settings.epochs {
      let start = DispatchTime.now().uptimeNanoseconds
      var order = Array(trainingClasses.indices)
      random.shuffle(&order)
      var lossSum = 0.0
      var correctSum = 0.0
      for batchStart in stride(from: 0, to: order.count, by: settings.batchSize) {
        var rows = Array(order[batchStart..<min(batchStart + settings.batchSize, order.count)])
        // A lone example has no batch variance to normalise by: borrow a neighbour.
        if rows.count == 1, order.count > 1 { rows.append(order[0]) }
        var batchFeatures: [Float] = []
        batchFeatures.reserveCapacity(rows.count * width)
        for row in rows { batchFeatures += trainingFeatures[(row * width)..<((row + 1) * width)] }
        let pass = head.train(
          features: batchFeatures, classIndices: rows.map { trainingClasses[$0] },
          classWeights: classWeights, learningRate: settings.learningRate,
          momentum: settings.momentum, weightDecay: settings.weightDecay,
          dropoutSeed: random.next())
        lossSum += pass.loss * Double(rows.count)
        correctSum += pass.accuracy * Double(rows.count)
      }
      let examples = Double(order.count)
      let validation = head.evaluate(
        features: validationFeatures, classIndices: validationClasses, classWeights: classWeights)
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      history.append(
        TrainingHistory.Epoch(
          epoch: epoch, loss: lossSum / examples, accuracy: correctSum / examples,
          validationLoss: validation.loss, validationAccuracy: validation.accuracy,
          learningRate: settings.learningRate, seconds: seconds))
      if best == nil || validation.loss < best!.loss {
        best = (epoch, validation.loss, head)
      }
    }
    let samples = split.training + split.validation
    let datasetHash = TrainingReport.datasetHash(
      labels: labels.map(\.name),
      frames: try samples.map { (try cache.contentHash(of: $0), $0.label.name) })
    return Result(
      labels: labels, history: history, bestEpoch: best!.epoch, bestHead: best!.head,
      split: split, validationClasses: validationClasses,
      validationPredictions: best!.head.predictedClasses(features: validationFeatures),
      datasetHash: datasetHash, featureSeconds: cache.computeSeconds - featureSecondsBefore)
  }

  /// A checkpoint of the base network's tensors (unchanged, including the ImageNet logits the
  /// feature extractor is built with) plus the head's `Checkpoint.HeadTensorName` tensors,
  /// with `labels` as class labels in training order.
  public static func checkpoint(
    base: Checkpoint, head: ClassifierHeadModel, labels: [Label], extra: [String: String] = [:]
  ) -> Checkpoint {
    // A warm-start base carries the previous head: it is replaced, never mixed.
    var tensors = Checkpoint.baseTensors(of: base.tensors)
    tensors.merge(head.tensors) { _, new in new }
    var metadata = base.metadata
    metadata.classLabels = labels.map(\.name)
    metadata.extra.merge(extra) { _, new in new }
    metadata.extra["head"] = "dense\(head.hiddenCount)_relu_batchnorm_dropout_dense_softmax"
    return Checkpoint(tensors: tensors, metadata: metadata)
  }
}
