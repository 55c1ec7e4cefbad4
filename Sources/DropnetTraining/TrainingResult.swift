import DropnetArchitecture
import DropnetDataset
import DropnetModel
import Foundation

/// What `Trainer` produced, in every mode: the kept epoch's head (and base tensors, when the
/// base trained), the history, the split and the figures of the run.
public struct TrainingResult: Sendable {
  /// What trained.
  public var mode: FineTuneMode
  /// How frames were framed (what the phone must give the model).
  public var framing: InputFraming
  /// The classes in network order (index i = output i).
  public var labels: [Label]
  /// Every epoch's numbers.
  public var history: TrainingHistory
  /// The epoch (1-based) with the lowest validation loss.
  public var bestEpoch: Int
  /// The head as it was after `bestEpoch`.
  public var bestHead: ClassifierHeadModel
  /// The base's tensors that trained, as they were after `bestEpoch` (TF-slim names and
  /// layouts): every batch norm's four tensors and the trained convolutions' weights; empty
  /// when the base was frozen.
  public var bestBaseTensors: [String: HostTensor]
  /// The split used (after `maximumFramesPerClass`).
  public var split: DatasetSplit
  /// Class index (into `labels`) of each validation frame, in `split.validation` order.
  public var validationClasses: [Int]
  /// The kept epoch's predicted class of each validation frame, same order.
  public var validationPredictions: [Int]
  /// `TrainingReport.datasetHash` of the frames used (both sides) and their labels.
  public var datasetHash: String
  /// Seconds spent computing cached base features (cache misses) during this run.
  public var featureSeconds: Double
  /// Training images per second of the steps (forward, backward, update), all epochs.
  public var trainingImagesPerSecond: Double
  /// Seconds the steps waited for frames to be decoded, all epochs.
  public var loaderWaitSeconds: Double

  /// The kept epoch's figures.
  public var best: TrainingHistory.Epoch? { history.epoch(bestEpoch) }

  /// The trained checkpoint: `start`'s tensors (the checkpoint training started from, metadata
  /// included) with the trained base tensors and the kept head, labels in output order and
  /// `facts` in the metadata.
  public func checkpoint(from start: Checkpoint, facts: [String: String] = [:]) -> Checkpoint {
    var facts = facts
    facts[InputFraming.metadataKey] = framing.rawValue
    return start.trained(
      base: bestBaseTensors, head: bestHead.tensors, labels: labels.map(\.name), facts: facts)
  }
}
