import DropnetModel
import DropnetTraining

/// The daemon's training seam: turns the current dataset into a checkpoint with validation
/// figures. The daemon runs a fast pass and the configured second pass through it;
/// `ModelTrainingPass` is the one real implementation, tests inject their own.
public protocol TrainingPass: AnyObject {
  /// What this pass trains.
  var mode: FineTuneMode { get }

  /// Trains on `request.manifest` (a complete snapshot) as `request.plan` says and returns the
  /// kept epoch. Checks `request.shouldStop` at every batch boundary and throws
  /// `TrainingPassStopped` when it says stop.
  func train(_ request: TrainingRequest) throws -> TrainingOutcome

  /// The accuracy of `checkpoint` (the published model) on `outcome`'s validation frames, in
  /// whatever order the checkpoint keeps its classes; nil when it cannot be scored there (other
  /// classes). `threads`: compute threads.
  func score(_ checkpoint: Checkpoint, against outcome: TrainingOutcome, threads: Int) throws
    -> Double?

  /// Forgets cached state (a rebuild re-extracts every frame).
  func reset()
}

/// Thrown by a pass that stopped at a batch boundary because `shouldStop` said so.
public struct TrainingPassStopped: Error, Sendable {
  public init() {}
}
