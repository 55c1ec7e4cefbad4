import DropnetDataset
import DropnetModel
import DropnetTraining
import Foundation

/// The full pass for `training.fine_tune = "bn" | "top:K" | "all"`: `FineTuner` trains the
/// base's batch norms (and the last K blocks' convolutions, or everything) with the head, on
/// frames decoded and augmented on the fly. It warm-starts from a published model the same mode
/// trained (its base and head), and stops at the next batch boundary when the daemon stops.
public final class FineTuningPass: TrainingPass {
  public let mode: String
  private let fineTuneMode: FineTuneMode

  /// A pass for `mode` ("bn", "top:K" or "all"); nil for anything else.
  public init?(mode: String) {
    guard let parsed = FineTuneMode(mode), parsed != .head else { return nil }
    self.mode = mode
    fineTuneMode = parsed
  }

  public func train(_ request: TrainingRequest) throws -> TrainingOutcome {
    var settings = FineTuner.Settings()
    settings.mode = fineTuneMode
    settings.training = request.training
    settings.threads = request.threads
    // Continuing a published model continues its base too: the head learnt its features.
    let start = request.warmStart ?? request.base
    let started = DispatchTime.now().uptimeNanoseconds
    let result: FineTuner.Result
    do {
      result = try FineTuner(settings: settings).train(
        manifest: request.manifest, stateFolder: request.stateFolder, baseWeights: start.tensors,
        warmStart: request.warmStart,
        progress: { progress in
          if progress.step == progress.steps {
            request.progress("\(self.mode) epoch \(progress.epoch)/\(progress.epochs)")
          }
        }, shouldStop: request.shouldStop)
    } catch let error as TrainingError where error.code == .cancelled {
      throw TrainingPassStopped()
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    let head = result.head
    let facts = TrainingFacts(
      result: head, fineTuneMode: mode, split: settings.split.strategy,
      dropnetVersion: DropnetVersion.string)
    let checkpoint = FineTuner.checkpoint(base: start, result: result, extra: facts.entries)
    return TrainingOutcome(
      checkpoint: checkpoint, result: head, seconds: seconds, stateFolder: request.stateFolder)
  }

  /// Runs `checkpoint` (any trained model: its own base and head) on the validation frames
  /// as validation in training does (`FineTuner.accuracy`); nil when its classes are not the
  /// outcome's.
  public func score(_ checkpoint: Checkpoint, against outcome: TrainingOutcome, threads: Int)
    throws -> Double?
  {
    guard
      PublishGate.sameClasses(
        published: checkpoint.metadata.classLabels, candidate: outcome.labels),
      let stateFolder = outcome.stateFolder
    else { return nil }
    return try FineTuner.accuracy(
      of: checkpoint, on: outcome.validation, stateFolder: stateFolder, threads: threads)
  }

  public func reset() {}
}
