import DropnetModel

/// The daemon's training seam: one way of turning the current dataset into a checkpoint with
/// validation metrics. The daemon runs a fast pass (`HeadTrainingPass`) and then the
/// configured second pass through this same protocol.
///
/// To add a mode (e.g. FineTuner's `bn`): write a class conforming to `TrainingPass` whose
/// `train` fine-tunes from `request.warmStart ?? request.base` for `request.epochs` (the
/// daemon gives a warm start only from a model the same mode published), checks
/// `request.shouldStop()` at every batch boundary (throwing `TrainingPassStopped` when it
/// is true) and returns the best epoch's checkpoint (base + head tensors, labels in output
/// order) with its validation metrics; then return it from `TrainingPasses.make` for the mode
/// and add the mode to `DaemonConfiguration.availableFineTuneModes`.
public protocol TrainingPass: AnyObject {
  /// The mode's name, as in `training.fine_tune` (`head`, `bn`, ...), for logs and metadata.
  var mode: String { get }
  /// Trains on `request.manifest` (a complete snapshot) and returns the best epoch.
  func train(_ request: TrainingRequest) throws -> TrainingOutcome

  /// The accuracy of `checkpoint` (the published model's) on `outcome`'s validation frames,
  /// or nil when this pass cannot score it that way (other classes, another base); the
  /// publish gate then uses the accuracy stored when it was published. `threads`: compute
  /// threads, where the pass runs a network.
  func score(_ checkpoint: Checkpoint, against outcome: TrainingOutcome, threads: Int) throws
    -> Double?

  /// Forgets cached state (a rebuild re-extracts every frame).
  func reset()
}

/// Thrown by a pass that stopped at a batch boundary because `shouldStop` said so.
public struct TrainingPassStopped: Error, Sendable {
  public init() {}
}
