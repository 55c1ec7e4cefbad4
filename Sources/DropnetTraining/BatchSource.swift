import DropnetArchitecture
import DropnetDataset
import Foundation

/// Where `Trainer`'s batches come from and how one SGD step runs on them: cached features of
/// a frozen base (`FeatureBatches`) or live images through the trained base (`ImageBatches`).
protocol BatchSource {
  /// Starts an epoch: fixes its order (and augmentation draws) from `random`; returns the
  /// number of steps it has.
  mutating func beginEpoch(using random: inout SeededRandom) throws -> Int

  /// The next step of the epoch on `head` (SGD on the head, and on the base when it trains);
  /// nil at the end of the epoch.
  mutating func step(head: inout ClassifierHeadModel, dropoutSeed: UInt64) throws
    -> (pass: ClassifierHeadModel.TrainingPass, examples: Int)?

  /// The validation frames' features as the network is now, at inference, [N * 1024].
  mutating func validationFeatures() throws -> [Float]

  /// The base tensors that train, as they are now (empty for a frozen base).
  func trainedBaseTensors() throws -> [String: HostTensor]

  /// Seconds spent computing cached features; seconds of SGD steps; seconds waiting for frames.
  var featureSeconds: Double { get }
  var stepSeconds: Double { get }
  var waitedSeconds: Double { get }
  /// Images stepped on so far.
  var stepImages: Int { get }
}
