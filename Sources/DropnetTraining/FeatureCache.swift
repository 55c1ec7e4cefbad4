import Crypto
import DropnetArchitecture
import DropnetDataset
import DropnetEngine
import DropnetMedia
import DropnetModel
import DropnetStorage
import Foundation

/// MobileNet v1's 1024-d pooled features of frames, computed once and reused every epoch
/// (the frozen base dominates the cost of training the head).
///
/// An entry is keyed by the frame's content identity (SHA-256 of the JPEG) and the copy number:
/// copy 0 is the frame as `dropnet predict` sees it (`CheckpointClassifier.networkImage`);
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

  /// How frames are framed before the network (the trained model's `InputFraming`).
  public let framing: InputFraming
  /// What the base network computes the features in.
  public let precision: Precision
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
  /// Entries asked for since the cache was made: what `save` keeps.
  private var usedKeys = Set<Key>()
  /// SHA-256 over the framing, the precision and the base tensors' names, shapes and values:
  /// saved features are valid only for the very same base, framing and precision.
  public let baseIdentity: String
  /// The saved file's identity: `baseIdentity`, and the augmentation when copies are drawn
  /// (a copy is valid only for the augmentation that drew it).
  private let fileIdentity: String

  /// A cache over the frames in `stateFolder`, using the base network in `baseWeights`
  /// (TF-slim MobileNet v1 names with the 1001-class ImageNet logits, as imported; tensors of
  /// a trained head, `Checkpoint.HeadTensorName`, are ignored).
  public init(
    baseWeights: [String: HostTensor], stateFolder: URL, framing: InputFraming = .centerCrop,
    augmentation: Augmentation? = nil, batchSize: Int = FeatureCache.defaultBatchSize,
    threads: Int = ProcessInfo.processInfo.activeProcessorCount, precision: Precision = .float32
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
    let base = Checkpoint.baseTensors(of: baseWeights)
    network = try MobileNetV1(
      weights: base, batchSize: batchSize, threads: threads, precision: precision)
    self.precision = precision
    baseIdentity = Self.identity(of: base, framing: framing, precision: precision)
    self.framing = framing
    self.stateFolder = stateFolder
    self.augmentation = augmentation
    fileIdentity = Self.fileIdentity(base: baseIdentity, augmentation: augmentation)
  }

  private static func fileIdentity(base: String, augmentation: Augmentation?) -> String {
    guard let augmentation else { return base }
    let digest = SHA256.hash(data: Data((base + "\(augmentation)").utf8))
    return digest.map { String(format: "%02x", $0) }.joined()
  }

  /// SHA-256 over the framing, the precision and the base tensors' names, shapes and values
  /// (`baseIdentity` of a cache over them).
  public static func identity(
    of base: [String: HostTensor], framing: InputFraming, precision: Precision = .float32
  ) -> String {
    var hasher = SHA256()
    // float32 caches keep the identity they had before precisions existed.
    hasher.update(
      data: Data(("\(framing)" + (precision == .float32 ? "" : " \(precision)") + "\n").utf8))
    for name in base.keys.sorted() {
      let tensor = base[name]!
      hasher.update(data: Data("\(name)\t\(tensor.shape)\n".utf8))
      tensor.values.withUnsafeBytes { hasher.update(bufferPointer: $0) }
    }
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
  }

  /// How many of `samples` (distinct frames) have no features of copy `copy` yet.
  public func missingCount(of samples: [TrainingSample], copy: Int = 0) throws -> Int {
    missing(try keys(of: samples, copy: copy), samples).count
  }

  private func keys(of samples: [TrainingSample], copy: Int) throws -> [Key] {
    try samples.map { Key(contentHash: try contentHash(of: $0), copy: copy) }
  }

  /// The distinct frames among `samples` (with their `keys`) that have no features yet.
  private func missing(_ keys: [Key], _ samples: [TrainingSample]) -> [(Key, TrainingSample)] {
    var missing: [(Key, TrainingSample)] = []
    var seen = Set<Key>()
    for (key, sample) in zip(keys, samples) where features[key] == nil && seen.insert(key).inserted
    {
      missing.append((key, sample))
    }
    return missing
  }

  /// Features [samples.count * 1024] (row-major, in `samples` order) of copy `copy` of each
  /// frame, computing only the missing ones; `shouldStop` is asked before each batch of the
  /// base network, and a true answer ends with a `.cancelled` error (what was computed stays);
  /// `computed` is told each batch's image count once it is done.
  public func features(
    of samples: [TrainingSample], copy: Int = 0, shouldStop: () -> Bool = { false },
    computed: (Int) -> Void = { _ in }
  ) throws -> [Float] {
    guard copy == 0 || augmentation != nil else {
      throw TrainingError(
        .invalidSetting, "copy \(copy) asked for, but the cache has no augmentation")
    }
    let keys = try keys(of: samples, copy: copy)
    usedKeys.formUnion(keys)
    let missing = missing(keys, samples)
    let start = DispatchTime.now().uptimeNanoseconds
    defer { computeSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
    for batchStart in stride(from: 0, to: missing.count, by: network.batchSize) {
      if shouldStop() {
        throw TrainingError(
          .cancelled, "stopped computing features after \(batchStart) of \(missing.count) frames")
      }
      let batch = missing[batchStart..<min(batchStart + network.batchSize, missing.count)]
      let images = try batch.map { try image(of: $0.1, key: $0.0) }
      let side = ImagePreprocessor.inputSize
      let input = try ImagePreprocessor.batch(fromBGR: images, width: side, height: side)
      let output = try network.forward(input).features.values
      let width = MobileNetV1Architecture.featureCount
      for (offset, (key, _)) in batch.enumerated() {
        features[key] = Array(output[(offset * width)..<((offset + 1) * width)])
      }
      computedCount += batch.count
      computed(batch.count)
    }
    return keys.flatMap { features[$0]! }
  }

  // File: "dropnet-features 2\n", the file identity (64 hex bytes) and "\n", then per entry
  // the frame's content hash (64 hex bytes), the copy number (UInt32 little-endian) and 1024
  // little-endian Float32 features.
  private static let fileMagic = Data("dropnet-features 2\n".utf8)
  private static let hashByteCount = 64

  /// Writes the features (plain and augmented copies) of the frames asked for since the cache
  /// was made (deleted frames drop out) to `url`, atomically: a later cache over the same base
  /// and augmentation loads them instead of running MobileNet again (e.g. the daemon after a
  /// restart). About 4 KiB per frame and copy.
  public func save(to url: URL) throws {
    let width = MobileNetV1Architecture.featureCount
    var data = Self.fileMagic
    data.append(Data((fileIdentity + "\n").utf8))
    let sorted = usedKeys.sorted { ($0.contentHash, $0.copy) < ($1.contentHash, $1.copy) }
    for key in sorted {
      guard let values = features[key] else { continue }
      assert(values.count == width)
      data.append(Data(key.contentHash.utf8))
      withUnsafeBytes(of: UInt32(key.copy).littleEndian) { data.append(contentsOf: $0) }
      values.withUnsafeBytes { data.append(contentsOf: $0) }
    }
    do {
      try AtomicFile.write(data, to: url)
    } catch {
      throw TrainingError(.io, path: error.path, "\(error)")
    }
  }

  /// Loads what `save` wrote, when it was written for this very base and augmentation;
  /// returns the number of entries loaded. A missing file, another base or augmentation, an
  /// older format or a damaged file load nothing (the features are then computed as usual):
  /// the file is only ever a shortcut.
  @discardableResult
  public func load(from url: URL) -> Int {
    guard let data = try? Data(contentsOf: url), data.starts(with: Self.fileMagic) else {
      return 0
    }
    let width = MobileNetV1Architecture.featureCount
    let headerEnd = Self.fileMagic.count + Self.hashByteCount + 1
    let copyBytes = MemoryLayout<UInt32>.size
    let entryBytes = Self.hashByteCount + copyBytes + width * MemoryLayout<Float>.size
    guard data.count >= headerEnd,
      String(decoding: data[Self.fileMagic.count..<(headerEnd - 1)], as: UTF8.self)
        == fileIdentity,
      (data.count - headerEnd) % entryBytes == 0
    else { return 0 }
    var loaded: [Key: [Float]] = [:]
    var offset = data.startIndex + headerEnd
    while offset < data.endIndex {
      let hash = String(decoding: data[offset..<(offset + Self.hashByteCount)], as: UTF8.self)
      guard hash.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
        return 0
      }
      let copyStart = offset + Self.hashByteCount
      var copy: UInt32 = 0
      withUnsafeMutableBytes(of: &copy) {
        _ = data.copyBytes(to: $0, from: copyStart..<(copyStart + copyBytes))
      }
      copy = UInt32(littleEndian: copy)
      guard copy == 0 || augmentation != nil else { return 0 }
      let valueStart = copyStart + copyBytes
      var values = [Float](repeating: 0, count: width)
      values.withUnsafeMutableBytes {
        _ = data.copyBytes(to: $0, from: valueStart..<(valueStart + width * 4))
      }
      loaded[Key(contentHash: hash, copy: Int(copy))] = values
      offset += entryBytes
    }
    features.merge(loaded) { current, _ in current }
    return loaded.count
  }

  /// Lower-case hex SHA-256 of the frame's JPEG (read once per path, then remembered).
  public func contentHash(of sample: TrainingSample) throws -> String {
    let path = sample.url(in: stateFolder).path
    if let hash = contentHashes[path] { return hash }
    let hash = try FileFingerprint.contentHash(path: path)
    contentHashes[path] = hash
    return hash
  }

  /// BGR bytes, 224x224, framed as predict does, then augmented for copies above 0.
  private func image(of sample: TrainingSample, key: Key) throws -> [UInt8] {
    let cropped = try CheckpointClassifier.networkImage(
      contentsOf: sample.url(in: stateFolder).path, framing: framing)
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
