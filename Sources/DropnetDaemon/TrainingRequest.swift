import DropnetDataset
import DropnetModel
import DropnetTraining
import Foundation

/// What a `TrainingPass` trains on and how long.
public struct TrainingRequest {
  /// The dataset snapshot: extraction has finished and nothing changes it during the pass.
  public var manifest: Manifest
  /// The state folder the manifest's frames live in.
  public var stateFolder: URL
  /// The ImageNet base checkpoint (TF-slim names, 1001-class logits).
  public var base: Checkpoint
  /// The published checkpoint to warm-start from, when the pass supports it and its classes
  /// still fit; nil trains from `base`.
  public var warmStart: Checkpoint?
  /// Epochs to train.
  public var epochs: Int
  /// Examples per SGD step.
  public var batchSize: Int
  /// Compute threads.
  public var threads: Int
  /// Most frames per class and split side (nil = all).
  public var maximumFramesPerClass: Int?
  /// Share of each class held out for validation.
  public var validationFraction: Double
  /// Seed of initialisation and batch order.
  public var seed: UInt64
  /// True when the daemon is stopping; passes that can, stop at the next batch boundary.
  public var shouldStop: () -> Bool
  /// Progress for `STATUS=` (e.g. "epoch 3/10, val acc 0.91").
  public var progress: (String) -> Void

  /// The trainers' shared settings for this request; the rest at the trainers' defaults.
  var training: TrainingSettings {
    var training = TrainingSettings(batchSize: batchSize)
    training.epochs = epochs
    training.maximumFramesPerClass = maximumFramesPerClass
    training.split.validationFraction = validationFraction
    training.seed = seed
    return training
  }

  public init(
    manifest: Manifest, stateFolder: URL, base: Checkpoint, warmStart: Checkpoint? = nil,
    epochs: Int, batchSize: Int, threads: Int, maximumFramesPerClass: Int? = nil,
    validationFraction: Double = 0.25, seed: UInt64 = 0,
    shouldStop: @escaping () -> Bool = { false }, progress: @escaping (String) -> Void = { _ in }
  ) {
    self.manifest = manifest
    self.stateFolder = stateFolder
    self.base = base
    self.warmStart = warmStart
    self.epochs = epochs
    self.batchSize = batchSize
    self.threads = threads
    self.maximumFramesPerClass = maximumFramesPerClass
    self.validationFraction = validationFraction
    self.seed = seed
    self.shouldStop = shouldStop
    self.progress = progress
  }
}
