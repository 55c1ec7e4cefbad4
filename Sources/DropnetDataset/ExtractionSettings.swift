/// How frames are taken from movies. A change of any field re-extracts the movies it affects.
public struct ExtractionSettings: Codable, Hashable, Sendable {
  /// Which frames to keep before the quality filter.
  public enum Sampling: Codable, Hashable, Sendable, CustomStringConvertible {
    /// About this many frames per second of video (the seed kept ~7.5 of 30).
    case rate(Double)
    /// Every Nth decoded frame.
    case interval(Int)

    public var description: String {
      switch self {
      case .rate(let rate): return "\(rate) frames/s"
      case .interval(let interval): return "every \(interval) frames"
      }
    }
  }

  public var sampling: Sampling = .rate(8)
  /// At most this many frames sampled per movie; long movies are sampled more sparsely.
  public var maximumFramesPerMovie = 300
  /// Longer side of stored frames in pixels: training resizes to 224, and augmentation's
  /// zoom and shift need a margin.
  public var maximumSide = 320
  /// JPEG quality of stored frames.
  public var jpegQuality = 92
  /// Drop blurred and near-duplicate frames.
  public var qualityFilter = true
  /// A frame is blurred when its sharpness is below this fraction of the movie's median.
  public var blurRatio = 0.3
  /// A frame is a near-duplicate when its 64-bit dHash differs from the last kept frame's in at
  /// most this many bits (0-64).
  public var duplicateBits = 3

  public init() {}

  /// Sampling step in decoded frames for a movie with `framesPerSecond` and a header claiming
  /// `claimedFrameCount` frames (0 when unknown).
  public func interval(framesPerSecond: Double, claimedFrameCount: Int) -> Int {
    var step: Int
    switch sampling {
    case .interval(let interval): step = max(1, interval)
    case .rate(let rate):
      // Unknown frame rate: assume 30 fps, the common phone default.
      let fps = framesPerSecond > 0 ? framesPerSecond : 30
      step = max(1, Int((fps / max(rate, 0.001)).rounded()))
    }
    if claimedFrameCount > 0, maximumFramesPerMovie > 0 {
      let sparsest = Int((Double(claimedFrameCount) / Double(maximumFramesPerMovie)).rounded(.up))
      step = max(step, sparsest)
    }
    return step
  }
}
