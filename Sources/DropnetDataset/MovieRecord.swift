import DropnetMedia

/// What the manifest knows about one extracted movie.
public struct MovieRecord: Codable, Hashable, Sendable {
  /// Path relative to the drop folder.
  public var path: String
  public var label: Label
  /// Folder name of its frames: `frames/<label>/<movieID>/`.
  public var movieID: String
  public var size: Int64
  /// Modification time, seconds since 1970.
  public var modificationTime: Double
  /// SHA-256 of the file's bytes, hex.
  public var contentHash: String
  public var settings: ExtractionSettings
  public var video: VideoInfo
  /// Frames decoded (the header's claim can differ).
  public var decodedFrameCount: Int
  /// Every sampled frame, kept or dropped.
  public var frames: [FrameRecord]
  /// Problems that did not stop extraction (e.g. the header claimed more frames).
  public var warnings: [String]
  /// When extraction finished, seconds since 1970.
  public var extractedAt: Double

  public var keptFrames: [FrameRecord] { frames.filter { $0.dropReason == nil } }

  /// Count of dropped frames per reason.
  public var droppedCounts: [FrameRecord.DropReason: Int] {
    frames.reduce(into: [:]) { counts, frame in
      if let reason = frame.dropReason { counts[reason, default: 0] += 1 }
    }
  }
}

/// One sampled frame of a movie.
public struct FrameRecord: Codable, Hashable, Sendable {
  /// Why a frame was not kept.
  public enum DropReason: String, Codable, Hashable, Sendable, CaseIterable {
    case blurred
    case duplicate
  }

  /// Index of the frame in decoding order; the JPEG is `<index>.jpg`.
  public var index: Int
  /// Seconds from the movie's start.
  public var time: Double
  /// Variance of the Laplacian at the stored size.
  public var sharpness: Double
  /// 64-bit difference hash.
  public var differenceHash: UInt64
  public var dropReason: DropReason?

  public var fileName: String { "\(index).jpg" }
}

/// A movie that could not be extracted, remembered so an unchanged bad file is not retried.
public struct FailureRecord: Codable, Hashable, Sendable {
  public var path: String
  public var size: Int64
  public var modificationTime: Double
  public var code: String
  public var message: String
}
