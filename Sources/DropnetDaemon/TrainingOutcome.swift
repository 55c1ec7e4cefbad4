import DropnetModel
import DropnetTraining
import Foundation

/// What a `TrainingPass` produced: the best epoch's checkpoint and its validation figures.
public struct TrainingOutcome: Sendable {
  /// Base and head tensors, `metadata.classLabels` in output order, `metadata.extra` with at
  /// least `fine_tune`, `best_epoch`, `val_accuracy`, `val_loss`.
  public var checkpoint: Checkpoint
  /// Every epoch's numbers.
  public var history: TrainingHistory
  /// The kept epoch (1-based).
  public var bestEpoch: Int
  /// Validation accuracy of the kept epoch.
  public var validationAccuracy: Double
  /// Validation loss of the kept epoch.
  public var validationLoss: Double
  /// The frames the checkpoint was validated on (the gate scores the published model on them).
  public var validation: [TrainingSample]
  /// Training frames used.
  public var trainingFrameCount: Int
  /// Wall time of the pass.
  public var seconds: Double
  /// The state folder the validation frames live in (for scoring another model on them).
  public var stateFolder: URL?

  public init(
    checkpoint: Checkpoint, history: TrainingHistory, bestEpoch: Int, validationAccuracy: Double,
    validationLoss: Double, validation: [TrainingSample], trainingFrameCount: Int, seconds: Double,
    stateFolder: URL? = nil
  ) {
    self.stateFolder = stateFolder
    self.checkpoint = checkpoint
    self.history = history
    self.bestEpoch = bestEpoch
    self.validationAccuracy = validationAccuracy
    self.validationLoss = validationLoss
    self.validation = validation
    self.trainingFrameCount = trainingFrameCount
    self.seconds = seconds
  }

  /// The outcome of a run that `result` describes (a head-only run, or a fine-tuning run's
  /// `head`): its history, kept epoch and that epoch's validation figures, and splits.
  init(
    checkpoint: Checkpoint, result: HeadTrainer.Result, seconds: Double, stateFolder: URL?
  ) {
    let best = result.history.epoch(result.bestEpoch)
    self.init(
      checkpoint: checkpoint, history: result.history, bestEpoch: result.bestEpoch,
      validationAccuracy: best?.validationAccuracy ?? 0, validationLoss: best?.validationLoss ?? 0,
      validation: result.split.validation, trainingFrameCount: result.split.training.count,
      seconds: seconds, stateFolder: stateFolder)
  }

  /// The class labels in output order.
  public var labels: [String] { checkpoint.metadata.classLabels }
}
