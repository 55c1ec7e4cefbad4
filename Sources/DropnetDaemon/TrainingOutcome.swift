import DropnetDataset
import DropnetModel
import DropnetTraining
import Foundation

/// What a `TrainingPass` produced: the kept epoch's checkpoint and its validation figures.
public struct TrainingOutcome: Sendable {
  /// Base and head tensors, `metadata.classLabels` in output order, the run's
  /// `TrainingFacts` in `metadata.extra`.
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
  /// The state folder the validation frames live in (for scoring another model on them).
  public var stateFolder: URL
  /// Wall time of the pass.
  public var seconds: Double
  /// The run's report (per-class figures, confusion matrix, validation mistakes), for the
  /// model card; nil when the pass keeps none.
  public var report: TrainingReport?

  public init(
    checkpoint: Checkpoint, history: TrainingHistory, bestEpoch: Int, validationAccuracy: Double,
    validationLoss: Double, validation: [TrainingSample], trainingFrameCount: Int,
    stateFolder: URL, seconds: Double, report: TrainingReport? = nil
  ) {
    self.report = report
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

  /// The outcome of the run `result` describes, whose checkpoint is `checkpoint`; its report
  /// is made with `settings` (nil: none).
  public init(
    checkpoint: Checkpoint, result: TrainingResult, stateFolder: URL, seconds: Double,
    settings: TrainingReport.Settings? = nil
  ) {
    self.init(
      checkpoint: checkpoint, history: result.history, bestEpoch: result.bestEpoch,
      validationAccuracy: result.best?.validationAccuracy ?? 0,
      validationLoss: result.best?.validationLoss ?? 0, validation: result.split.validation,
      trainingFrameCount: result.split.training.count, stateFolder: stateFolder,
      seconds: seconds,
      report: settings.map { TrainingReport(result: result, settings: $0, totalSeconds: seconds) })
  }

  /// The class labels in output order.
  public var labels: [String] { checkpoint.metadata.classLabels }
}
