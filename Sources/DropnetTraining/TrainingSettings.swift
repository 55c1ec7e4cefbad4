import DropnetDataset
import DropnetEngine
import DropnetModel
import Foundation

/// How `Trainer` trains: what of the network trains (`mode`), the optimiser, the head's shape,
/// which frames it sees, augmentation, threads and the seed. One set of settings for every
/// mode; the few that apply to one kind of mode say so.
public struct TrainingSettings: Sendable, Hashable {
  /// What trains: the head on cached features, or the base too on live images.
  public var mode = FineTuneMode.head
  /// How frames are framed for the network: the view the app gives the exported model
  /// (Vision's `.centerCrop` by default), the same for training, validation and prediction.
  public var framing = InputFraming.centerCrop
  /// Passes over the training frames.
  public var epochs = 30
  /// Examples per SGD step; nil takes the mode's default (`defaultBatchSize`).
  public var batchSize: Int?
  /// SGD learning rate; nil takes the mode's default (`defaultLearningRate`).
  public var learningRate: Double?
  /// SGD momentum (the seed's 0.9).
  public var momentum = 0.9
  /// Added to the kernels' gradients times the kernel (0 = off): the head's kernels, and in
  /// the base modes the trained convolutions' weights.
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
  /// Seed of the head's initialisation, the batch order, dropout and augmentation draws.
  public var seed: UInt64 = 0
  /// The augmentation of training frames (nil = plain frames). Base modes draw it anew for
  /// every image of every epoch; the head mode caches `augmentedCopies` draws per frame.
  public var augmentation: Augmentation? = Augmentation()
  /// Head mode: augmented draws of each training frame cached beside the plain one; each
  /// epoch trains on one of a frame's copies, drawn at random (0 = plain frames only). Four
  /// copies cost four more passes of the base over the training frames and, on the quality
  /// benchmark's photos, lifted the exported model from 40.0% to 48.9% right (3 seeds).
  public var augmentedCopies = 4
  /// Engine threads (the machine's cores by default).
  public var threads = ProcessInfo.processInfo.activeProcessorCount
  /// What the base network computes in while training (cached features, steps, validation):
  /// bfloat16 where the CPU runs it natively and faster, float32 elsewhere
  /// (`Precision.automatic`).
  /// Master weights and the head stay float32 (the head is Double), and exported models are
  /// float32 or float16 either way.
  public var precision = Precision.automatic

  public init(mode: FineTuneMode = .head) { self.mode = mode }

  /// Examples per step when `batchSize` is nil: 32 for the head (Keras' default); 16 for the
  /// base modes, measured as fast per image as 32 (`dropnet bench train`) at half the memory
  /// (~0.67 GB resident in `bn` mode, ~1.3 GB in `all`).
  public var defaultBatchSize: Int { mode == .head ? 32 : 16 }

  /// The augmented copies per frame a head training caches and draws from: `augmentedCopies`
  /// in head mode with an augmentation, else 0.
  public var cachedCopies: Int { mode == .head && augmentation != nil ? augmentedCopies : 0 }

  /// The augmentation a feature cache for these settings needs: nil when no copies are cached.
  public var cachedAugmentation: Augmentation? { cachedCopies > 0 ? augmentation : nil }

  /// `batchSize`, or the mode's default.
  public var resolvedBatchSize: Int { batchSize ?? defaultBatchSize }

  /// The learning rate when `learningRate` is nil. The base modes take the seed's 1e-3. The
  /// head alone takes 5e-3: at 1e-3 its 30 epochs (about 400 steps on a few hundred frames)
  /// stop short, and on the quality benchmark's photos 3e-3 to 1e-2 lifted the exported model
  /// from 48.9% to 54.0-54.6% right (3 seeds each).
  public var defaultLearningRate: Double { mode == .head ? 5e-3 : 1e-3 }

  /// `learningRate`, or the mode's default.
  public var resolvedLearningRate: Double { learningRate ?? defaultLearningRate }

  /// Throws `.invalidSetting` naming the first bad value.
  public func validate() throws {
    func require(_ condition: Bool, _ message: String) throws {
      if !condition { throw TrainingError(.invalidSetting, message) }
    }
    try require(epochs >= 1, "epochs must be at least 1, got \(epochs)")
    try require(
      resolvedBatchSize >= 2, "batch size must be at least 2 (BatchNorm), got \(resolvedBatchSize)")
    try require(
      resolvedLearningRate > 0, "learning rate must be positive, got \(resolvedLearningRate)")
    try require(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got \(momentum)")
    try require(weightDecay >= 0, "weight decay must be 0 or more, got \(weightDecay)")
    try require((maximumFramesPerClass ?? 1) >= 1, "maximum frames per class must be positive")
    try require(augmentedCopies >= 0, "augmented copies must be 0 or more")
    try require(threads >= 1, "threads must be at least 1, got \(threads)")
    try augmentation?.validate()
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
