import DropnetDataset
import DropnetEngine
import DropnetModel
import DropnetTraining
import Foundation

/// What a `TrainingPass` trains on, and how (`plan`).
public struct TrainingRequest {
  /// The dataset snapshot: extraction has finished and nothing changes it during the pass.
  public var manifest: Manifest
  /// The state folder the manifest's frames live in.
  public var stateFolder: URL
  /// The ImageNet base checkpoint (TF-slim names, 1001-class logits).
  public var base: Checkpoint
  /// The published checkpoint, continued when `plan.warmStart`.
  public var published: Checkpoint?
  /// Warm start or fresh, epochs, seed.
  public var plan: TrainingPlan
  /// Examples per SGD step.
  public var batchSize: Int
  /// Compute threads.
  public var threads: Int
  /// Most frames per class and split side (nil = all).
  public var maximumFramesPerClass: Int?
  /// Share of each class held out for validation.
  public var validationFraction: Double
  /// How frames become the network's input.
  public var framing: InputFraming
  /// What the base network computes in.
  public var precision: Precision
  /// Head passes: augmented copies cached per training frame (`TrainingSettings`).
  public var augmentedCopies: Int
  /// True when the daemon is stopping: the pass stops at the next batch boundary.
  public var shouldStop: () -> Bool
  /// Progress for `STATUS=` (e.g. "bn epoch 3/10").
  public var progress: (String) -> Void

  public init(
    manifest: Manifest, stateFolder: URL, base: Checkpoint, published: Checkpoint? = nil,
    plan: TrainingPlan, batchSize: Int, threads: Int, maximumFramesPerClass: Int? = nil,
    validationFraction: Double = 0.25, framing: InputFraming = .centerCrop,
    precision: Precision = .float32,
    augmentedCopies: Int = TrainingSettings().augmentedCopies,
    shouldStop: @escaping () -> Bool = { false },
    progress: @escaping (String) -> Void = { _ in }
  ) {
    self.manifest = manifest
    self.stateFolder = stateFolder
    self.base = base
    self.published = published
    self.plan = plan
    self.batchSize = batchSize
    self.threads = threads
    self.maximumFramesPerClass = maximumFramesPerClass
    self.validationFraction = validationFraction
    self.framing = framing
    self.precision = precision
    self.augmentedCopies = augmentedCopies
    self.shouldStop = shouldStop
    self.progress = progress
  }

  /// The checkpoint a warm start continues (the published one), else nil.
  public var warmStart: Checkpoint? { plan.warmStart ? published : nil }

  /// The trainer's settings for this request.
  public var settings: TrainingSettings {
    var settings = TrainingSettings(mode: plan.mode)
    settings.epochs = plan.epochs
    settings.seed = plan.seed
    settings.batchSize = batchSize
    settings.threads = threads
    settings.maximumFramesPerClass = maximumFramesPerClass
    settings.split.validationFraction = validationFraction
    settings.framing = framing
    settings.precision = precision
    settings.augmentedCopies = augmentedCopies
    return settings
  }
}
