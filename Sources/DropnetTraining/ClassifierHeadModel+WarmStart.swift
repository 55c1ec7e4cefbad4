import DropnetModel

/// Warm start: a head that continues from a checkpoint's trained head when the
/// classes change between runs.
///
/// The class order is the checkpoint's (its metadata's `classLabels`), never the folder order
/// of the new data: classes still present keep their place, new classes come after them in
/// name order, removed classes disappear. Everything before the last layer (Dense 1, the
/// BatchNorm's parameters and running statistics) is taken over unchanged; the last layer
/// keeps the old weights and bias of every class still present, bit for bit, and new classes
/// get what a fresh head of the new size would give them (Glorot draw from `seed`, bias 0).
extension ClassifierHeadModel {
  /// The output order for `current` classes when continuing from a head trained on
  /// `previous` (in its output order): the kept previous classes in their order, then the new
  /// ones sorted by name.
  public static func warmStartLabelOrder(previous: [String], current: [String]) -> [String] {
    let currentSet = Set(current)
    let previousSet = Set(previous)
    return previous.filter { currentSet.contains($0) }
      + current.filter { !previousSet.contains($0) }.sorted()
  }

  /// A head for `labels` (in output order, e.g. from `warmStartLabelOrder`) initialised from
  /// `checkpoint`'s trained head (tensors under `Checkpoint.HeadTensorName.prefix`, labels in its metadata).
  ///
  /// Throws `.invalidSetting` when the checkpoint has no head, when its labels do not name
  /// its outputs, when `labels` repeats a name or has fewer than two, and when `hiddenCount`
  /// (if given) differs from the checkpoint's hidden width, which cannot be carried over.
  public init(
    initialisedFrom checkpoint: Checkpoint, labels: [String], hiddenCount: Int? = nil,
    dropoutRate: Double = 0.5, seed: UInt64 = 0
  ) throws {
    guard checkpoint.hasTrainedHead else {
      throw TrainingError(
        .invalidSetting,
        "the warm-start checkpoint has no trained head (no \(Checkpoint.HeadTensorName.prefix) tensors); "
          + "pass a best.safetensors written by `dropnet train`, or train from scratch")
    }
    let previous = try ClassifierHeadModel(tensors: checkpoint.tensors)
    let previousLabels = checkpoint.metadata.classLabels
    guard previousLabels.count == previous.classCount else {
      throw TrainingError(
        .invalidSetting,
        "the warm-start checkpoint names \(previousLabels.count) classes but its head has "
          + "\(previous.classCount) outputs; it was not written by `dropnet train`")
    }
    guard Set(labels).count == labels.count else {
      throw TrainingError(.invalidSetting, "the class labels \(labels) repeat a name")
    }
    if let hiddenCount, hiddenCount != previous.hiddenCount {
      throw TrainingError(
        .invalidSetting,
        "the warm-start checkpoint's head has \(previous.hiddenCount) hidden units, this run "
          + "asks for \(hiddenCount); use the same hidden size, or train from scratch")
    }
    try self.init(
      featureCount: previous.featureCount, hiddenCount: previous.hiddenCount,
      classCount: labels.count, dropoutRate: dropoutRate, seed: seed)
    parameters.fc1Weights = previous.parameters.fc1Weights
    parameters.fc1Biases = previous.parameters.fc1Biases
    parameters.gamma = previous.parameters.gamma
    parameters.beta = previous.parameters.beta
    movingMean = previous.movingMean
    movingVariance = previous.movingVariance
    // fc2 is Keras [hidden, classes]: class c is column c (row c of CoreML's [out, in]).
    let previousIndex = Dictionary(
      uniqueKeysWithValues: previousLabels.enumerated().map { ($1, $0) })
    let (hidden, oldCount, newCount) = (self.hiddenCount, previous.classCount, classCount)
    for (newClass, label) in labels.enumerated() {
      guard let oldClass = previousIndex[label] else { continue }
      for unit in 0..<hidden {
        parameters.fc2Weights[unit * newCount + newClass] =
          previous.parameters.fc2Weights[unit * oldCount + oldClass]
      }
      parameters.fc2Biases[newClass] = previous.parameters.fc2Biases[oldClass]
    }
  }
}
