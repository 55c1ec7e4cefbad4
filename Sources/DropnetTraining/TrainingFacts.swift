import DropnetDataset
import Foundation

/// What a training run stores about itself in its checkpoint's metadata (`extra`), under
/// stable key names, so that an exported model can carry them (`ModelExporter` copies them
/// into every format's metadata under the same names) and the daemon can
/// show where a model came from.
///
/// Every value is a string (safetensors metadata is a string map); lists and per-class counts
/// are compact JSON with sorted keys, numbers are Swift's shortest exact form.
public struct TrainingFacts: Sendable, Equatable {
  /// The metadata key names (documented in README.md, "CoreML export").
  public enum Key {
    /// ISO 8601 time the run finished, e.g. "2026-11-29T22:10:00Z".
    public static let trainingDate = "training_date"
    /// JSON array of the class labels in output order, e.g. `["fish","tool"]`.
    public static let classes = "classes"
    /// JSON object label -> training frames used, e.g. `{"fish":30,"tool":28}`.
    public static let trainingFrames = "training_frames_per_class"
    /// JSON object label -> validation frames used.
    public static let validationFrames = "validation_frames_per_class"
    /// Validation accuracy (0-1) of the kept epoch.
    public static let validationAccuracy = "validation_accuracy"
    /// Weighted validation cross-entropy of the kept epoch.
    public static let validationLoss = "validation_loss"
    /// The kept epoch, 1-based.
    public static let bestEpoch = "best_epoch"
    /// What trained: "head", "bn", "top:K" or "all".
    public static let fineTuneMode = "fine_tune_mode"
    /// How the frames were split: "leak-free" or "random-frames".
    public static let split = "split"
    /// The dropnet version that trained the model.
    public static let trainingDropnetVersion = "training_dropnet_version"
    /// SHA-256 of the dataset (`TrainingReport.datasetHash`), when known.
    public static let datasetHash = "dataset_sha256"
    /// SHA-256 of the checkpoint file the run warm-started from, when it did.
    public static let warmStartedFrom = "warm_started_from_sha256"

    /// Every key above, in a fixed order.
    public static let all = [
      trainingDate, classes, trainingFrames, validationFrames, validationAccuracy,
      validationLoss, bestEpoch, fineTuneMode, split, trainingDropnetVersion, datasetHash,
      warmStartedFrom,
    ]
  }

  /// When the run finished.
  public var trainingDate: Date
  /// Class labels in output order.
  public var classes: [String]
  /// Training frames per class.
  public var trainingFrames: [String: Int]
  /// Validation frames per class.
  public var validationFrames: [String: Int]
  /// Validation accuracy of the kept epoch.
  public var validationAccuracy: Double
  /// Validation loss of the kept epoch.
  public var validationLoss: Double
  /// The kept epoch (1-based).
  public var bestEpoch: Int
  /// "head", "bn", "top:K" or "all".
  public var fineTuneMode: String
  /// The split strategy's name.
  public var split: String
  /// The dropnet version that trained.
  public var dropnetVersion: String
  /// SHA-256 of the dataset, if known.
  public var datasetHash: String?
  /// SHA-256 of the warm-start checkpoint, if any.
  public var warmStartedFrom: String?

  /// Creates the facts from their parts.
  public init(
    trainingDate: Date, classes: [String], trainingFrames: [String: Int],
    validationFrames: [String: Int], validationAccuracy: Double, validationLoss: Double,
    bestEpoch: Int, fineTuneMode: String, split: String, dropnetVersion: String,
    datasetHash: String? = nil, warmStartedFrom: String? = nil
  ) {
    self.trainingDate = trainingDate
    self.classes = classes
    self.trainingFrames = trainingFrames
    self.validationFrames = validationFrames
    self.validationAccuracy = validationAccuracy
    self.validationLoss = validationLoss
    self.bestEpoch = bestEpoch
    self.fineTuneMode = fineTuneMode
    self.split = split
    self.dropnetVersion = dropnetVersion
    self.datasetHash = datasetHash
    self.warmStartedFrom = warmStartedFrom
  }

  /// The facts of a `Trainer` run: classes, frames per class, the mode and the kept epoch's
  /// validation figures come from `result`.
  public init(
    result: TrainingResult, split: DatasetSplit.Strategy, dropnetVersion: String,
    trainingDate: Date = Date()
  ) {
    let best = result.history.epoch(result.bestEpoch)
    self.init(
      trainingDate: trainingDate, classes: result.labels.map(\.name),
      trainingFrames: Self.counts(result.split.training, labels: result.labels),
      validationFrames: Self.counts(result.split.validation, labels: result.labels),
      validationAccuracy: best?.validationAccuracy ?? .nan,
      validationLoss: best?.validationLoss ?? .nan, bestEpoch: result.bestEpoch,
      fineTuneMode: result.mode.description, split: split.rawValue, dropnetVersion: dropnetVersion,
      datasetHash: result.datasetHash)
  }

  /// Frames per class name (every label present, 0 when it has none).
  static func counts(_ samples: [TrainingSample], labels: [Label]) -> [String: Int] {
    var counts = Dictionary(uniqueKeysWithValues: labels.map { ($0.name, 0) })
    for sample in samples { counts[sample.label.name, default: 0] += 1 }
    return counts
  }

  /// The string entries for `CheckpointMetadata.extra`.
  public var entries: [String: String] {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    var entries = [
      Key.trainingDate: formatter.string(from: trainingDate),
      Key.classes: Self.json(classes),
      Key.trainingFrames: Self.json(trainingFrames),
      Key.validationFrames: Self.json(validationFrames),
      Key.validationAccuracy: String(validationAccuracy),
      Key.validationLoss: String(validationLoss),
      Key.bestEpoch: String(bestEpoch),
      Key.fineTuneMode: fineTuneMode,
      Key.split: split,
      Key.trainingDropnetVersion: dropnetVersion,
    ]
    entries[Key.datasetHash] = datasetHash
    entries[Key.warmStartedFrom] = warmStartedFrom
    return entries
  }

  /// Reads the facts back from checkpoint metadata entries; nil when a required one is
  /// missing or malformed (e.g. the imported ImageNet checkpoint, which was never trained
  /// by dropnet).
  public init?(entries: [String: String]) {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    func decode<Value: Decodable>(_ key: String, as type: Value.Type) -> Value? {
      entries[key].flatMap { try? JSONDecoder().decode(Value.self, from: Data($0.utf8)) }
    }
    guard let date = entries[Key.trainingDate].flatMap(formatter.date(from:)),
      let classes = decode(Key.classes, as: [String].self),
      let trainingFrames = decode(Key.trainingFrames, as: [String: Int].self),
      let validationFrames = decode(Key.validationFrames, as: [String: Int].self),
      let accuracy = entries[Key.validationAccuracy].flatMap(Double.init),
      let loss = entries[Key.validationLoss].flatMap(Double.init),
      let bestEpoch = entries[Key.bestEpoch].flatMap(Int.init),
      let mode = entries[Key.fineTuneMode], let split = entries[Key.split],
      let version = entries[Key.trainingDropnetVersion]
    else { return nil }
    self.init(
      trainingDate: date, classes: classes, trainingFrames: trainingFrames,
      validationFrames: validationFrames, validationAccuracy: accuracy, validationLoss: loss,
      bestEpoch: bestEpoch, fineTuneMode: mode, split: split, dropnetVersion: version,
      datasetHash: entries[Key.datasetHash], warmStartedFrom: entries[Key.warmStartedFrom])
  }

  /// Compact JSON with sorted keys (the same facts give the same bytes).
  private static func json<Value: Encodable>(_ value: Value) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
  }
}
