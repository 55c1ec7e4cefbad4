import DropnetArchitecture
import DropnetDataset
import DropnetEngine
import DropnetModel
import Foundation

/// The base modes' batches (`bn`, `top:K`, `all`): frames decoded and augmented on the fly by
/// a `BatchLoader` worker while the engine computes. A step runs the whole network:
///
///     base forward in batch-statistics mode -> features [N, 1024] -> head training pass
///     (weighted cross-entropy, dropout) -> d features -> base backward -> SGD on both
///
/// Every step has exactly `batchSize` images (oneDNN fixes the batch when it builds the
/// network): an epoch's shuffled order is topped up with its own first frames. Validation
/// runs the inference network (batch norm folded with the moving statistics).
struct ImageBatches: BatchSource {
  private let settings: TrainingSettings
  private let labels: [Label]
  private let classWeights: [Double]
  private let training: [TrainingSample]
  private let validation: [TrainingSample]
  private let stateFolder: URL
  private let baseWeights: [String: HostTensor]
  private let network: MobileNetV1Trainable
  private var loader: BatchLoader?
  let featureSeconds = 0.0
  private(set) var stepSeconds = 0.0
  private(set) var stepImages = 0
  private var waitedBefore = 0.0
  /// The trained tensors as of the last validation (converting them costs a pass over
  /// millions of values, so once per epoch).
  private var snapshot: [String: HostTensor]?

  init(
    split: DatasetSplit, labels: [Label], classWeights: [Double], stateFolder: URL,
    baseWeights: [String: HostTensor], settings: TrainingSettings
  ) throws {
    guard split.training.count >= 2, !split.validation.isEmpty else {
      throw TrainingError(
        .tooFewFrames,
        "\(split.training.count) training and \(split.validation.count) validation frames: "
          + "fine-tuning needs at least 2 and 1; add frames or movies")
    }
    self.settings = settings
    self.labels = labels
    self.classWeights = classWeights
    training = split.training
    validation = split.validation
    self.stateFolder = stateFolder
    self.baseWeights = baseWeights
    network = try MobileNetV1Trainable(
      weights: baseWeights, batchSize: settings.resolvedBatchSize, threads: settings.threads,
      trainedConvolutionCount: settings.mode.trainedConvolutionCount ?? 0,
      precision: settings.precision)
  }

  var waitedSeconds: Double { waitedBefore + (loader?.waitedSeconds ?? 0) }

  mutating func beginEpoch(using random: inout SeededRandom) throws -> Int {
    waitedBefore += loader?.waitedSeconds ?? 0
    snapshot = nil
    let order = Self.epochOrder(training, batchSize: settings.resolvedBatchSize, using: &random)
    let loader = try BatchLoader(
      samples: order, labels: labels, stateFolder: stateFolder,
      batchSize: settings.resolvedBatchSize, framing: settings.framing,
      augmentation: settings.augmentation,
      shuffle: false, seed: random.next())
    self.loader = loader
    return loader.batchCount
  }

  mutating func step(head: inout ClassifierHeadModel, dropoutSeed: UInt64) throws
    -> (pass: ClassifierHeadModel.TrainingPass, examples: Int)?
  {
    guard let batch = try loader?.next() else { return nil }
    let start = DispatchTime.now().uptimeNanoseconds
    let pass = try Trainer.step(
      network: network, head: &head, images: batch.images, classIndices: batch.classIndices,
      classWeights: classWeights, settings: settings, dropoutSeed: dropoutSeed)
    stepSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    stepImages += batch.classIndices.count
    return (pass, batch.classIndices.count)
  }

  mutating func validationFeatures() throws -> [Float] {
    let trained = try network.tensors(includingFrozen: false)
    snapshot = trained
    return try Self.features(
      of: validation, labels: labels, baseWeights: baseWeights.merging(trained) { _, new in new },
      stateFolder: stateFolder, framing: settings.framing, batchSize: settings.resolvedBatchSize,
      threads: settings.threads, precision: settings.precision)
  }

  func trainedBaseTensors() throws -> [String: HostTensor] {
    try snapshot ?? network.tensors(includingFrozen: false)
  }

  /// The training frames in a seeded random order, topped up with the order's own first
  /// frames to a whole number of batches.
  static func epochOrder(
    _ samples: [TrainingSample], batchSize: Int, using random: inout SeededRandom
  ) -> [TrainingSample] {
    var order = samples
    random.shuffle(&order)
    let target = (order.count + batchSize - 1) / batchSize * batchSize
    var index = 0
    while order.count < target {
      order.append(order[index % samples.count])
      index += 1
    }
    return order
  }

  /// Pooled features [N * 1024] of the plain (unaugmented) `samples` through the inference
  /// network of `baseWeights` (batch norm folded with the moving statistics).
  static func features(
    of samples: [TrainingSample], labels: [Label], baseWeights: [String: HostTensor],
    stateFolder: URL, framing: InputFraming, batchSize: Int, threads: Int,
    precision: Precision = .float32
  ) throws -> [Float] {
    // Inference needs no kept activations, and a training network's may still be alive:
    // batches of at most 16 keep this network's buffers near 100 MB.
    let batchSize = min(batchSize, 16)
    let network = try MobileNetV1(
      weights: baseWeights, batchSize: batchSize, threads: threads, precision: precision)
    let loader = try BatchLoader(
      samples: samples, labels: labels, stateFolder: stateFolder, batchSize: batchSize,
      framing: framing, augmentation: nil, shuffle: false)
    var features: [Float] = []
    while let batch = try loader.next() {
      features += try network.forward(batch.images).features.values
    }
    return features
  }
}
