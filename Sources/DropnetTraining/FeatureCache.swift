import DropnetDataset
import DropnetEngine
import DropnetMedia
import DropnetModel
import Foundation

/// MobileNet v1's 1024-d pooled features of frames, computed once and reused every epoch
/// (issue 4's "head mode with cached base features": the frozen base dominates the cost).
///
/// An entry is keyed by the frame's content identity (SHA-256 of the JPEG) and the copy number:
/// copy 0 is the frame as `dropnet predict` sees it (central 87.5% crop, area resize to 224);
/// copy k > 0 is that image augmented once by `augmentation` with a draw seeded by
/// (content, k), so a given copy is the same on every run. A renamed or re-extracted frame with
/// the same bytes hits the cache; a changed frame misses it. Memory: 4 KiB per entry.
public final class FeatureCache {
  /// Images per MobileNet forward pass.
  public static let defaultBatchSize = 16

  /// The identity of one cached feature vector.
  public struct Key: Hashable, Sendable {
    /// Lower-case hex SHA-256 of the JPEG.
    public var contentHash: String
    /// 0 = plain, k > 0 = k-th augmented draw.
    public var copy: Int
  }

  /// Augmentation of copies 1 and up (nil: only copy 0 may be asked for).
  public let augmentation: Augmentation?
  /// Frames whose features were computed (cache misses) so far.
  public private(set) var computedCount = 0
  /// Seconds spent decoding and running MobileNet so far.
  public private(set) var computeSeconds = 0.0

  private let network: MobileNetV1
  private let stateFolder: URL
  private var features: [Key: [Float]] = [:]
  private var contentHashes: [String: String] = [:]

  /// A cache over the frames in `stateFolder`, using the base network in `baseWeights`
  /// (TF-slim MobileNet v1 names with the 1001-class ImageNet logits, as imported; tensors of
  /// a trained head, `ClassifierHeadModel.TensorName`, are ignored).
  public init(
    baseWeights: [String: HostTensor], stateFolder: URL, augmentation: Augmentation? = nil,
    batchSize: Int = FeatureCache.defaultBatchSize,
    threads: Int = ProcessInfo.processInfo.activeProcessorCount
  ) throws {
    if let augmentation {
      try augmentation.validate()
      guard augmentation.outputSide == ImagePreprocessor.inputSize else {
        throw TrainingError(
          .invalidSetting,
          "augmentation must output \(ImagePreprocessor.inputSize) pixels for MobileNet v1")
      }
    }
    // A trained checkpoint (e.g. a warm start's) also holds its head: the base is the rest.
    network = try MobileNetV1(
      weights: ClassifierHeadModel.TensorName.baseTensors(of: baseWeights), batchSize: batchSize,
      threads: threads)
    self.stateFolder = stateFolder
    self.augmentation = augmentation
  }

  /// Features [samples.count * 1024] (row-major, in `samples` order) of copy `copy` of each
  /// frame, computing only the missing ones.
  public func features(of samples: [TrainingSample], copy: Int = 0) throws -> [Float] {
    guard copy == 0 || augmentation != nil else {
      throw TrainingError(
        .invalidSetting, "copy \(copy) asked for, but the cache has no augmentation")
    }
    let keys = try samples.map { Key(contentHash: try contentHash(of: $0), copy: copy) }
    var missing: [(Key, TrainingSample)] = []
    var seen = Set<Key>()
    for (key, sample) in zip(keys, samples) where features[key] == nil && seen.insert(key).inserted
    {
      missing.append((key, sample))
    }
    let start = DispatchTime.now().uptimeNanoseconds
    for batchStart in stride(from: 0, to: missing.count, by: network.batchSize) {
      let batch = missing[batchStart..<min(batchStart + network.batchSize, missing.count)]
      let images = try batch.map { try image(of: $0.1, key: $0.0) }
      let side = ImagePreprocessor.inputSize
      let input = try ImagePreprocessor.batch(fromBGR: images, width: side, height: side)
      let output = try network.forward(input).features.values
      let width = MobileNetV1.featureCount
      for (offset, (key, _)) in batch.enumerated() {
        features[key] = Array(output[(offset * width)..<((offset + 1) * width)])
      }
      computedCount += batch.count
    }
    computeSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return keys.flatMap { features[$0]! }
  }

  /// Lower-case hex SHA-256 of the frame's JPEG (read once per path, then remembered).
  public func contentHash(of sample: TrainingSample) throws -> String {
    let path = sample.url(in: stateFolder).path
    if let hash = contentHashes[path] { return hash }
    let hash = try FileFingerprint.contentHash(path: path)
    contentHashes[path] = hash
    return hash
  }

  /// BGR bytes, 224x224, cropped as predict does, then augmented for copies above 0.
  private func image(of sample: TrainingSample, key: Key) throws -> [UInt8] {
    let image = try Image(contentsOf: sample.url(in: stateFolder).path)
    let crop = ImagePreprocessor.centralCrop(width: image.width, height: image.height)
    let side = ImagePreprocessor.inputSize
    let cropped = try Image(
      bytes: ImagePreprocessor.crop(
        image.bytes, width: image.width, height: image.height, to: crop),
      width: crop.width, height: crop.height, channelCount: 3
    ).resized(width: side, height: side)
    guard key.copy > 0, let augmentation else { return cropped.bytes }
    // The draw depends only on the content and the copy number (FNV-1a over both).
    var seed: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in Array(key.contentHash.utf8) + withUnsafeBytes(of: UInt64(key.copy), Array.init) {
      seed = (seed ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    var random = SeededRandom(seed: seed)
    return try augmentation.apply(to: cropped, using: &random).bytes
  }
}
