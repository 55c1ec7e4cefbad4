import DropnetDataset
import DropnetEngine
import DropnetModel
import DropnetTraining
import Foundation

/// The daemon's training pass for any `FineTuneMode`, through `Trainer`. In the head mode one
/// `FeatureCache` lives as long as the pass and is saved in the state folder after each run,
/// so the features of unchanged frames are computed once, not once per retrain or restart.
/// The base modes continue the published model's base when they warm-start (its head learnt
/// that base's features).
public final class ModelTrainingPass: TrainingPass {
  public let mode: FineTuneMode
  /// The head mode's cache (nil until the first training; dropped by `reset`).
  public private(set) var cache: FeatureCache?
  private var cacheKey:
    (
      stateFolder: URL, threads: Int, framing: InputFraming, precision: Precision,
      augmentation: Augmentation?
    )?

  /// The precision of the last training, which scoring another model matches (so the gate
  /// compares like with like).
  private var precision = Precision.float32

  public init(mode: FineTuneMode) { self.mode = mode }

  public func train(_ request: TrainingRequest) throws -> TrainingOutcome {
    let start =
      mode == .head ? request.base : (request.warmStart ?? request.base)
    precision = request.settings.precision
    let started = DispatchTime.now().uptimeNanoseconds
    let result: TrainingResult
    var reportedTenth = 0
    do {
      result = try Trainer(settings: request.settings).train(
        manifest: request.manifest, stateFolder: request.stateFolder, start: start,
        warmStart: request.warmStart, cache: mode == .head ? try cache(for: request) : nil,
        progress: { progress in
          if progress.isComputingFeatures {
            // Every tenth: each status is written to disk and sent to systemd.
            let tenth = progress.featuresComputed * 10 / max(progress.featuresToCompute, 1)
            if tenth > reportedTenth {
              reportedTenth = tenth
              request.progress(
                "features \(progress.featuresComputed)/\(progress.featuresToCompute) images")
            }
          } else if progress.step == progress.steps {
            request.progress("\(self.mode) epoch \(progress.epoch)/\(progress.epochs)")
          }
        }, shouldStop: request.shouldStop)
    } catch let error as TrainingError where error.code == .cancelled {
      throw TrainingPassStopped()
    }
    if let cache {
      // Only a shortcut for the next start: a failure to save costs a recomputation, no more.
      try? cache.save(to: Self.cacheFile(in: request.stateFolder))
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    let facts = TrainingFacts(
      result: result, split: request.settings.split.strategy,
      dropnetVersion: DropnetVersion.string)
    return TrainingOutcome(
      checkpoint: result.checkpoint(from: start, facts: facts.entries), result: result,
      stateFolder: request.stateFolder, seconds: seconds,
      settings: TrainingReport.Settings(request.settings))
  }

  /// A head on the base this pass caches features of is scored on the cached validation
  /// features; any other model runs whole on the decoded validation frames.
  public func score(_ checkpoint: Checkpoint, against outcome: TrainingOutcome, threads: Int)
    throws -> Double?
  {
    let labels = checkpoint.metadata.classLabels
    guard PublishGate.sameClasses(published: labels, candidate: outcome.labels),
      !outcome.validation.isEmpty
    else { return nil }
    guard let cache,
      FineTuneMode(checkpoint.metadata.extra[TrainingFacts.Key.fineTuneMode] ?? "")
        == .head,
      FeatureCache.identity(
        of: checkpoint.baseTensors, framing: InputFraming(checkpoint: checkpoint),
        precision: cache.precision) == cache.baseIdentity
    else {
      return try Trainer.accuracy(
        of: checkpoint, on: outcome.validation, stateFolder: outcome.stateFolder,
        threads: threads, precision: precision)
    }
    let head = try ClassifierHeadModel(tensors: checkpoint.tensors)
    // Class indices in the checkpoint's own output order, which may differ from the outcome's.
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    let classes = outcome.validation.map { classIndex[$0.label.name]! }
    return head.evaluate(
      features: try cache.features(of: outcome.validation), classIndices: classes,
      classWeights: Array(repeating: 1, count: labels.count)
    ).accuracy
  }

  public func reset() {
    if let cacheKey {
      try? FileManager.default.removeItem(at: Self.cacheFile(in: cacheKey.stateFolder))
    }
    cache = nil
    cacheKey = nil
  }

  /// The saved features of the frames (`FeatureCache.save`), so a restarted daemon does not
  /// run MobileNet again over unchanged frames.
  public static func cacheFile(in stateFolder: URL) -> URL {
    stateFolder.appendingPathComponent("features.bin")
  }

  private func cache(for request: TrainingRequest) throws -> FeatureCache {
    let framing = request.settings.framing
    let precision = request.settings.precision
    let augmentation = request.settings.cachedAugmentation
    if let cache, let cacheKey, cacheKey.stateFolder == request.stateFolder,
      cacheKey.threads == request.threads, cacheKey.framing == framing,
      cacheKey.precision == precision, cacheKey.augmentation == augmentation
    {
      return cache
    }
    let made = try FeatureCache(
      baseWeights: request.base.baseTensors, stateFolder: request.stateFolder, framing: framing,
      augmentation: augmentation, threads: request.threads, precision: precision)
    made.load(from: Self.cacheFile(in: request.stateFolder))
    cache = made
    cacheKey = (request.stateFolder, request.threads, framing, precision, augmentation)
    return made
  }
}
