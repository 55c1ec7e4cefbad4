import DropnetArchitecture
import DropnetDataset
import DropnetEngine
import DropnetMedia
import DropnetModel
import Foundation

/// One epoch of batches, decoded and augmented on a worker thread ahead of the consumer.
///
/// The worker reads each frame's JPEG, frames and resizes it as `dropnet predict` does
/// (`CheckpointClassifier.networkImage`: the model's `InputFraming`, area resize to 224x224), augments it (when
/// given an `Augmentation`), and converts the batch to a [N, 224, 224, 3] RGB tensor in
/// [-1, 1]. Up to `depth` ready batches wait in a bounded queue, so decoding overlaps the
/// training step; `waitedSeconds` says how long the consumer still waited for the worker.
/// Order and augmentation depend only on `seed`. Dropping the loader stops the worker.
public final class BatchLoader: Sendable {
  /// A batch ready for the engine.
  public struct Batch: Sendable {
    /// [N, 224, 224, 3], RGB, values in [-1, 1].
    public var images: HostTensor
    /// The class index (position in `labels`) of each image.
    public var classIndices: [Int]
    /// The frames, in batch order.
    public var samples: [TrainingSample]
  }

  /// Batches in this epoch (the last one may be smaller).
  public let batchCount: Int
  private let queue: Queue

  /// Starts the worker on `samples` in a seeded random order (`shuffle`) or as given.
  /// Throws `.invalidSetting` for a bad size or a sample whose label is not in `labels`.
  public init(
    samples: [TrainingSample], labels: [Label], stateFolder: URL, batchSize: Int,
    framing: InputFraming, augmentation: Augmentation?, shuffle: Bool = true, seed: UInt64 = 0,
    depth: Int = 2
  ) throws {
    guard batchSize > 0, depth > 0 else {
      throw TrainingError(
        .invalidSetting, "batch size and queue depth must be positive, got \(batchSize), \(depth)")
    }
    if let augmentation {
      try augmentation.validate()
      guard augmentation.outputSide == ImagePreprocessor.inputSize else {
        throw TrainingError(
          .invalidSetting,
          "augmentation must output \(ImagePreprocessor.inputSize) pixels for MobileNet v1")
      }
    }
    let classIndex = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
    if let stranger = samples.first(where: { classIndex[$0.label] == nil }) {
      throw TrainingError(
        .invalidSetting, "frame \(stranger.relativePath) has label \(stranger.label), not a class")
    }
    var order = samples
    // Two streams from one seed: the order's draws must not shift the augmentation's.
    var random = SeededRandom(seed: seed)
    if shuffle { random.shuffle(&order) }
    let batches = stride(from: 0, to: order.count, by: batchSize).map {
      Array(order[$0..<min($0 + batchSize, order.count)])
    }
    batchCount = batches.count
    let queue = Queue(depth: depth)
    self.queue = queue
    let job = Job(
      batches: batches, classIndex: classIndex, stateFolder: stateFolder, framing: framing,
      augmentation: augmentation, seed: seed ^ 0xA5A5_A5A5_A5A5_A5A5)
    // The thread holds the queue, not the loader, so dropping the loader can stop it.
    let thread = Thread { job.run(into: queue) }
    thread.name = "dropnet-batch-loader"
    thread.start()
  }

  deinit { queue.cancel() }

  /// The next batch, waiting for the worker if it is not ready; nil after the last one.
  /// A frame that cannot be read throws here, and the epoch ends.
  public func next() throws -> Batch? { try queue.take() }

  /// Seconds the consumer spent waiting in `next()` so far.
  public var waitedSeconds: Double { queue.statistics.waited }

  /// Seconds the worker spent reading, cropping, augmenting and converting so far.
  public var workSeconds: Double { queue.statistics.work }

  /// What the worker does: immutable, so it can run on its thread.
  private struct Job: Sendable {
    var batches: [[TrainingSample]]
    var classIndex: [Label: Int]
    var stateFolder: URL
    var framing: InputFraming
    var augmentation: Augmentation?
    var seed: UInt64

    func run(into queue: Queue) {
      var random = SeededRandom(seed: seed)
      for samples in batches {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = Result { try batch(samples, &random) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        guard queue.put(result, workSeconds: seconds) else { return }
        if case .failure = result { break }
      }
      queue.finish()
    }

    private func batch(_ samples: [TrainingSample], _ random: inout SeededRandom) throws -> Batch {
      let side = ImagePreprocessor.inputSize
      var pixels: [[UInt8]] = []
      for sample in samples {
        let cropped = try CheckpointClassifier.networkImage(
          contentsOf: sample.url(in: stateFolder).path, framing: framing)
        let augmented = try augmentation?.apply(to: cropped, using: &random) ?? cropped
        pixels.append(augmented.bytes)
      }
      return Batch(
        images: try ImagePreprocessor.batch(fromBGR: pixels, width: side, height: side),
        classIndices: samples.map { classIndex[$0.label]! }, samples: samples)
    }
  }

  /// The bounded queue between the worker and the consumer.
  private final class Queue: @unchecked Sendable {
    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private let depth: Int
    private var ready: [Result<Batch, any Error>] = []
    private var finished = false
    private var cancelled = false
    private var waited = 0.0
    private var work = 0.0

    init(depth: Int) { self.depth = depth }

    /// Adds a batch, waiting while the queue is full; false when cancelled.
    func put(_ batch: Result<Batch, any Error>, workSeconds: Double) -> Bool {
      condition.lock()
      defer { condition.unlock() }
      work += workSeconds
      while ready.count >= depth && !cancelled { condition.wait() }
      guard !cancelled else { return false }
      ready.append(batch)
      condition.broadcast()
      return true
    }

    func finish() {
      condition.lock()
      finished = true
      condition.broadcast()
      condition.unlock()
    }

    func cancel() {
      condition.lock()
      cancelled = true
      condition.broadcast()
      condition.unlock()
    }

    func take() throws -> Batch? {
      condition.lock()
      let start = DispatchTime.now().uptimeNanoseconds
      while ready.isEmpty && !finished { condition.wait() }
      waited += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      guard !ready.isEmpty else {
        condition.unlock()
        return nil
      }
      let result = ready.removeFirst()
      condition.broadcast()
      condition.unlock()
      return try result.get()
    }

    var statistics: (waited: Double, work: Double) {
      condition.lock()
      defer { condition.unlock() }
      return (waited, work)
    }
  }
}
