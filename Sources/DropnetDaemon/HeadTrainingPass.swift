import DropnetDataset
import DropnetModel
import DropnetTraining
import Foundation

/// The fast pass: `HeadTrainer` on cached ImageNet features. One `FeatureCache` lives as long
/// as the pass and is saved in the state folder after each run, so the features of unchanged
/// frames are computed once, not once per retrain or restart. `HeadTrainer` cannot stop inside a run; its runs take seconds once features
/// are cached, and the daemon abandons one on SIGTERM (nothing of it is written until it ends).
public final class HeadTrainingPass: TrainingPass {
  public let mode = "head"
  /// The cache (nil until the first training; dropped by `reset`).
  public private(set) var cache: FeatureCache?
  private var cacheKey: (stateFolder: URL, threads: Int)?

  public init() {}

  public func train(_ request: TrainingRequest) throws -> TrainingOutcome {
    var settings = HeadTrainer.Settings()
    settings.training = request.training
    let cache = try cache(for: request)
    let started = DispatchTime.now().uptimeNanoseconds
    let result = try HeadTrainer(settings: settings).train(
      manifest: request.manifest, cache: cache, warmStart: request.warmStart)
    // Only a shortcut for the next start: a failure to save costs a recomputation, no more.
    try? cache.save(to: Self.cacheFile(in: request.stateFolder))
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    let extra = TrainingFacts(
      result: result, fineTuneMode: mode, split: settings.split.strategy,
      dropnetVersion: DropnetVersion.string
    ).entries
    let checkpoint = HeadTrainer.checkpoint(
      base: request.base, head: result.bestHead, labels: result.labels, extra: extra)
    return TrainingOutcome(
      checkpoint: checkpoint, result: result, seconds: seconds, stateFolder: request.stateFolder)
  }

  /// The head of `checkpoint` on the cached validation features (`threads` unused: the cache
  /// has its own).
  public func score(_ checkpoint: Checkpoint, against outcome: TrainingOutcome, threads: Int)
    throws -> Double?
  {
    // Only a head on the frozen ImageNet base can run on the cached features.
    let labels = checkpoint.metadata.classLabels
    guard let cache, checkpoint.metadata.extra[TrainingFacts.Key.fineTuneMode] == mode,
      PublishGate.sameClasses(published: labels, candidate: outcome.labels),
      !outcome.validation.isEmpty
    else { return nil }
    let head = try ClassifierHeadModel(tensors: checkpoint.tensors)
    // Class indices in the checkpoint's own output order, which may differ from the outcome's.
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    let classes = outcome.validation.compactMap { classIndex[$0.label.name] }
    guard classes.count == outcome.validation.count else { return nil }
    let features = try cache.features(of: outcome.validation)
    return head.evaluate(
      features: features, classIndices: classes,
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
    if let cache, let cacheKey, cacheKey.stateFolder == request.stateFolder,
      cacheKey.threads == request.threads
    {
      return cache
    }
    let made = try FeatureCache(
      baseWeights: request.base.tensors, stateFolder: request.stateFolder,
      threads: request.threads)
    made.load(from: Self.cacheFile(in: request.stateFolder))
    cache = made
    cacheKey = (request.stateFolder, request.threads)
    return made
  }
}
