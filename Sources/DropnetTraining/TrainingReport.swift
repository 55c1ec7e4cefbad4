import Crypto
import DropnetStorage
import Foundation

/// `report.json` of a training run: what was trained on (class counts, split, dataset hash),
/// with which settings, how long it took, and how the kept epoch does on the validation
/// frames (per-class precision and recall, confusion matrix).
public struct TrainingReport: Codable, Sendable, Equatable {
  /// One class's figures.
  public struct ClassFigures: Codable, Sendable, Equatable {
    /// The class label.
    public var label: String
    /// Training frames used.
    public var trainingFrames: Int
    /// Validation frames used.
    public var validationFrames: Int
    /// How the class was split ("by-movie", "by-time", "random-frames").
    public var splitMethod: String?
    /// Validation precision at the kept epoch (null when nothing was predicted as the class).
    public var precision: Double?
    /// Validation recall at the kept epoch (null when the class had no validation frame).
    public var recall: Double?

    private enum CodingKeys: String, CodingKey {
      case label, trainingFrames, validationFrames, splitMethod, precision, recall
    }

    // Written by hand so an undefined precision or recall is an explicit null, not a
    // missing key (the synthesized form leaves nil out).
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(label, forKey: .label)
      try container.encode(trainingFrames, forKey: .trainingFrames)
      try container.encode(validationFrames, forKey: .validationFrames)
      try container.encode(splitMethod, forKey: .splitMethod)
      try container.encode(precision, forKey: .precision)
      try container.encode(recall, forKey: .recall)
    }
  }

  /// A validation frame the kept epoch classified wrongly.
  public struct ValidationMistake: Codable, Sendable, Equatable {
    /// The frame's JPEG relative to the state folder (`frames/<label>/<movieID>/<index>.jpg`).
    public var frame: String
    /// The movie it comes from (path relative to the drop folder).
    public var movie: String
    /// Its true class.
    public var label: String
    /// The class the kept epoch predicted.
    public var predicted: String

    public init(frame: String, movie: String, label: String, predicted: String) {
      self.frame = frame
      self.movie = movie
      self.label = label
      self.predicted = predicted
    }
  }

  /// The settings the run used (the subset that changes the result).
  public struct Settings: Codable, Sendable, Equatable {
    public var fineTune: String
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var momentum: Double
    public var weightDecay: Double
    public var dropoutRate: Double
    public var hiddenCount: Int
    public var augmentedCopies: Int
    public var balanceClasses: Bool
    public var maximumFramesPerClass: Int?
    public var split: String
    public var validationFraction: Double
    public var boundaryGap: Double
    public var seed: UInt64
    /// The checkpoint the run continued from (path), if it warm-started.
    public var warmStartFrom: String?

    /// The report's view of `settings`; cached copies only count in the head mode (the
    /// base modes draw their augmentation anew for every image of every epoch).
    public init(_ settings: TrainingSettings, warmStartFrom: String? = nil) {
      let fineTune = settings.mode.description
      let augmentedCopies = settings.cachedCopies
      self.fineTune = fineTune
      epochs = settings.epochs
      batchSize = settings.resolvedBatchSize
      learningRate = settings.resolvedLearningRate
      momentum = settings.momentum
      weightDecay = settings.weightDecay
      dropoutRate = settings.dropoutRate
      hiddenCount = settings.hiddenCount
      self.augmentedCopies = augmentedCopies
      balanceClasses = settings.balanceClasses
      maximumFramesPerClass = settings.maximumFramesPerClass
      split = settings.split.strategy.rawValue
      validationFraction = settings.split.validationFraction
      boundaryGap = settings.split.boundaryGap
      seed = settings.seed
      self.warmStartFrom = warmStartFrom
    }
  }

  /// Where the time went, in seconds.
  public struct Timings: Codable, Sendable, Equatable {
    /// Computing base features (cache misses: decoding, cropping, MobileNet).
    public var features: Double
    /// All epochs (SGD steps and validation), the sum of `epochs`.
    public var training: Double
    /// The whole run as the caller measured it (nil when not measured).
    public var total: Double?
    /// Each epoch, in order.
    public var epochs: [Double]
  }

  /// Class labels in output order.
  public var labels: [String]
  /// The kept epoch (1-based).
  public var bestEpoch: Int
  /// Validation loss of the kept epoch.
  public var validationLoss: Double?
  /// Validation accuracy of the kept epoch.
  public var validationAccuracy: Double?
  /// One entry per class, in `labels` order.
  public var classes: [ClassFigures]
  /// Validation confusion matrix of the kept epoch: rows true class, columns predicted, in
  /// `labels` order.
  public var confusionMatrix: [[Int]]
  /// Largest over smallest training class.
  public var trainingImbalanceRatio: Double
  /// `datasetHash(labels:frames:)` of the frames used.
  public var datasetHash: String
  /// The run's settings.
  public var settings: Settings
  /// The run's timings.
  public var timings: Timings
  /// The kept model on held-out photos (never trained on), through the model's own framing;
  /// nil when there were none.
  public var heldOut: HeldOutPhotos.Score?
  /// Every validation frame the kept epoch got wrong, in validation order (nil in reports
  /// written before it was recorded).
  public var validationMistakes: [ValidationMistake]?

  /// The report of a `Trainer` run; `totalSeconds` is the caller's wall clock.
  public init(
    result: TrainingResult, settings: Settings, totalSeconds: Double? = nil,
    heldOut: HeldOutPhotos.Score? = nil
  ) {
    self.heldOut = heldOut
    let metrics = ClassificationMetrics(
      trueClasses: result.validationClasses, predictedClasses: result.validationPredictions,
      classCount: result.labels.count)
    let training = TrainingFacts.counts(result.split.training, labels: result.labels)
    let validation = TrainingFacts.counts(result.split.validation, labels: result.labels)
    let best = result.history.epoch(result.bestEpoch)
    labels = result.labels.map(\.name)
    bestEpoch = result.bestEpoch
    validationLoss = best.map(\.validationLoss).flatMap { $0.isNaN ? nil : $0 }
    validationAccuracy = best.map(\.validationAccuracy).flatMap { $0.isNaN ? nil : $0 }
    classes = result.labels.enumerated().map { index, label in
      ClassFigures(
        label: label.name, trainingFrames: training[label.name] ?? 0,
        validationFrames: validation[label.name] ?? 0,
        splitMethod: result.split.methods[label]?.rawValue, precision: metrics.precision[index],
        recall: metrics.recall[index])
    }
    confusionMatrix = metrics.confusion
    validationMistakes = zip(
      result.split.validation,
      zip(result.validationClasses, result.validationPredictions)
    )
    .compactMap { sample, classes in
      classes.0 == classes.1
        ? nil
        : ValidationMistake(
          frame: sample.relativePath, movie: sample.moviePath,
          label: result.labels[classes.0].name, predicted: result.labels[classes.1].name)
    }
    trainingImbalanceRatio =
      ClassBalance(labels: result.labels, samples: result.split.training).imbalanceRatio
    datasetHash = result.datasetHash
    self.settings = settings
    let epochSeconds = result.history.epochs.map(\.seconds)
    timings = Timings(
      features: result.featureSeconds, training: epochSeconds.reduce(0, +), total: totalSeconds,
      epochs: epochSeconds)
  }

  /// A stable SHA-256 (lower-case hex) of a dataset: the class names (sorted), then one
  /// line "label TAB content-hash" per frame, the lines sorted, so the same frames with the
  /// same labels give the same hash whatever their order, file names, folders or the
  /// network's class order, and changing a frame's bytes, its label, or the classes changes it.
  public static func datasetHash(
    labels: [String], frames: [(contentHash: String, label: String)]
  ) -> String {
    var hasher = SHA256()
    hasher.update(data: Data(("classes\t" + labels.sorted().joined(separator: "\t") + "\n").utf8))
    for line in frames.map({ "\($0.label)\t\($0.contentHash)\n" }).sorted() {
      hasher.update(data: Data(line.utf8))
    }
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
  }

  /// The report as pretty JSON with sorted keys.
  public func encoded() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    // A figure that could not be measured (NaN) becomes the string "nan", not invalid JSON.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try encoder.encode(self)
  }

  /// Writes `report.json` atomically (temp file, fsync, rename).
  public func write(to url: URL) throws {
    do {
      try AtomicFile.write(try encoded(), to: url)
    } catch let error as TrainingError {
      throw error
    } catch {
      throw TrainingError(.io, path: url.path, "cannot write the report (\(error))")
    }
  }
}
