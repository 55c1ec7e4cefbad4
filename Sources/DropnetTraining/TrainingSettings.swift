import DropnetDataset
import DropnetModel
import Foundation

/// What `HeadTrainer` and `FineTuner` share: the optimiser, the head's shape, which frames
/// they see and the seed. Each trainer's `Settings` holds one and adds its own (cached copies;
/// the fine-tuning mode and threads); both read these fields as their own
/// (`settings.epochs`), so callers set them alike.
public struct TrainingSettings: Sendable, Hashable {
  /// Passes over the training frames.
  public var epochs = 30
  /// Examples per SGD step; the default differs by trainer (see each `Settings`).
  public var batchSize: Int
  /// SGD learning rate (the seed's 1e-3).
  public var learningRate = 1e-3
  /// SGD momentum (the seed's 0.9).
  public var momentum = 0.9
  /// Added to the kernels' gradients times the kernel (0 = off): the head's kernels, and in
  /// fine-tuning the trained convolutions' weights.
  public var weightDecay = 0.0
  /// Hidden units dropped in training.
  public var dropoutRate = 0.5
  /// Width of the hidden layer.
  public var hiddenCount = ClassifierHeadModel.defaultHiddenCount
  /// Weigh the loss by inverse class frequency.
  public var balanceClasses = true
  /// At most this many frames per class on each side of the split, taken evenly spread
  /// (nil = all); keeps tests and quick trials small.
  public var maximumFramesPerClass: Int?
  /// How frames are split into training and validation.
  public var split = DatasetSplit.Settings()
  /// Seed of the head's initialisation, the batch order, dropout (and augmentation draws).
  public var seed: UInt64 = 0

  public init(batchSize: Int) { self.batchSize = batchSize }

  /// Throws `.invalidSetting` naming the first bad value.
  public func validate() throws {
    func require(_ condition: Bool, _ message: String) throws {
      if !condition { throw TrainingError(.invalidSetting, message) }
    }
    try require(epochs >= 1, "epochs must be at least 1, got \(epochs)")
    try require(batchSize >= 2, "batch size must be at least 2 (BatchNorm), got \(batchSize)")
    try require(learningRate > 0, "learning rate must be positive, got \(learningRate)")
    try require(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got \(momentum)")
    try require(weightDecay >= 0, "weight decay must be 0 or more, got \(weightDecay)")
    try require((maximumFramesPerClass ?? 1) >= 1, "maximum frames per class must be positive")
  }

  /// `manifest`'s kept frames split into training and validation, each side thinned to
  /// `maximumFramesPerClass`.
  func split(of manifest: Manifest) throws -> DatasetSplit {
    var split = try DatasetSplit(manifest: manifest, settings: split)
    if let limit = maximumFramesPerClass {
      split.training = Self.thin(split.training, perClass: limit)
      split.validation = Self.thin(split.validation, perClass: limit)
    }
    return split
  }

  /// The loss weight of each class of `labels` (output order): inverse frequency among
  /// `training` when `balanceClasses`, else 1.
  func classWeights(labels: [Label], training: [TrainingSample]) throws -> [Double] {
    guard balanceClasses else { return Array(repeating: 1.0, count: labels.count) }
    return try ClassBalance(labels: labels, samples: training).lossWeights()
  }

  /// The head training starts from: `warmStart`'s head with its outputs rearranged for
  /// `labels`, or a fresh one on `featureCount` features.
  func initialHead(labels: [Label], featureCount: Int, warmStart: Checkpoint?) throws
    -> ClassifierHeadModel
  {
    guard let warmStart else {
      return try ClassifierHeadModel(
        featureCount: featureCount, hiddenCount: hiddenCount, classCount: labels.count,
        dropoutRate: dropoutRate, seed: seed)
    }
    return try ClassifierHeadModel(
      initialisedFrom: warmStart, labels: labels.map(\.name), hiddenCount: hiddenCount,
      dropoutRate: dropoutRate, seed: seed)
  }

  /// The classes in output order: sorted, or for a warm start the checkpoint's order for the
  /// classes it had, new ones after them (`ClassifierHeadModel.warmStartLabelOrder`).
  static func outputOrder(of labels: [Label], warmStart: Checkpoint?) -> [Label] {
    guard let warmStart else { return labels }
    let byName = Dictionary(uniqueKeysWithValues: labels.map { ($0.name, $0) })
    return ClassifierHeadModel.warmStartLabelOrder(
      previous: warmStart.metadata.classLabels, current: labels.map(\.name)
    ).map { byName[$0]! }
  }

  /// At most `limit` frames per class, evenly spread over each class's frames (kept in order).
  static func thin(_ samples: [TrainingSample], perClass limit: Int) -> [TrainingSample] {
    var result: [TrainingSample] = []
    for (_, group) in Dictionary(grouping: samples, by: \.label).sorted(by: { $0.key < $1.key }) {
      guard group.count > limit else {
        result += group
        continue
      }
      let sorted = group.sorted { ($0.moviePath, $0.time) < ($1.moviePath, $1.time) }
      result += (0..<limit).map { sorted[$0 * sorted.count / limit] }
    }
    return result
  }
}
