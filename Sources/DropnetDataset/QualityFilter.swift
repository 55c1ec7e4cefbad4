/// Drops blurred and near-duplicate frames of one movie by rule (the seed deleted them by hand).
///
/// Blur is judged relative to the movie's own frames, not by one absolute threshold: a movie of
/// a plain wall is never as "sharp" as one of a tree, but its blurred moments are still far
/// below its own median. Near-duplicates are frames whose difference hash is within a few bits
/// of the last kept frame's: a phone held still yields many copies of one moment, which add
/// nothing but weight to that moment.
public struct QualityFilter: Sendable {
  public var blurRatio: Double
  public var duplicateBits: Int

  public init(blurRatio: Double, duplicateBits: Int) {
    self.blurRatio = blurRatio
    self.duplicateBits = duplicateBits
  }

  public init(settings: ExtractionSettings) {
    self.init(blurRatio: settings.blurRatio, duplicateBits: settings.duplicateBits)
  }

  /// The sharpness below which a frame of this movie counts as blurred.
  public func blurThreshold(sharpness: [Double]) -> Double {
    guard !sharpness.isEmpty else { return 0 }
    let sorted = sharpness.sorted()
    let middle = sorted.count / 2
    let median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    return median * blurRatio
  }

  /// A drop reason per frame (nil = keep), frames given in time order.
  public func judge(sharpness: [Double], hashes: [UInt64]) -> [FrameRecord.DropReason?] {
    precondition(sharpness.count == hashes.count, "one hash per frame")
    let threshold = blurThreshold(sharpness: sharpness)
    var reasons: [FrameRecord.DropReason?] = []
    var lastKept: UInt64?
    for (value, hash) in zip(sharpness, hashes) {
      if value < threshold {
        reasons.append(.blurred)
      } else if let previous = lastKept, (previous ^ hash).nonzeroBitCount <= duplicateBits {
        reasons.append(.duplicate)
      } else {
        reasons.append(nil)
        lastKept = hash
      }
    }
    return reasons
  }
}
