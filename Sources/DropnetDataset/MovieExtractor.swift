import DropnetMedia
import Foundation

/// Decodes one movie frame by frame, keeps every Nth frame upright and downscaled, judges
/// quality, and writes the kept frames as JPEG into a folder. Memory stays bounded by one
/// decoded frame plus the per-frame figures, whatever the movie's length or resolution.
public struct MovieExtractor: Sendable {
  public var settings: ExtractionSettings

  public init(settings: ExtractionSettings) { self.settings = settings }

  /// What extraction of one movie produced.
  public struct Output: Sendable {
    public var video: VideoInfo
    public var decodedFrameCount: Int
    public var frames: [FrameRecord]
    public var warnings: [String]
  }

  /// The subfolder of a movie's frame folder that holds the frames the quality filter dropped
  /// (`frames/<label>/<movieID>/dropped/<index>.jpg`): never trained on, kept to be looked at.
  public static let droppedFolderName = "dropped"

  /// Extracts `path` into `folder` (which must exist and be empty). Dropped frames' files move
  /// into `folder/dropped/`; `frames` records every sampled frame.
  public func extract(
    path: String, into folder: URL,
    progress: (_ decoded: Int, _ expected: Int) -> Void = { _, _ in },
    shouldStop: () -> Bool = { false }
  ) throws -> Output {
    let size = try FileFingerprint(path: path).size
    if size == 0 {
      throw DatasetError(
        .emptyMovie, path: path,
        "the file is empty (0 bytes): the copy may have been interrupted; copy the movie again")
    }
    if let kind = Self.imageKind(path: path) {
      throw DatasetError(
        .unreadableMovie, path: path,
        "the file is a \(kind) image, not a movie; drop movies here (export it again as .mov/.mp4)")
    }
    let reader: VideoReader
    do {
      reader = try VideoReader(path: path)
    } catch let error as MediaError {
      throw DatasetError(
        .unreadableMovie, path: path,
        "FFmpeg cannot open it as a movie (not a video, or its header is damaged: \(error.message)); check that it plays, or export it again as H.264 .mov/.mp4"
      )
    }
    let info = reader.info
    let step = settings.interval(
      framesPerSecond: info.framesPerSecond, claimedFrameCount: info.claimedFrameCount)
    let fps = info.framesPerSecond > 0 ? info.framesPerSecond : 30
    var frames: [FrameRecord] = []
    var warnings: [String] = []
    var decodeFailures = 0
    while try reader.advance() {
      let index = reader.frameIndex
      if index % 30 == 0 { progress(index, info.claimedFrameCount) }
      if shouldStop() {
        throw DatasetError(.io, path: path, "extraction was interrupted")
      }
      guard index % step == 0 else { continue }
      if settings.maximumFramesPerMovie > 0, frames.count >= settings.maximumFramesPerMovie {
        warnings.append(
          "stopped at \(settings.maximumFramesPerMovie) sampled frames (maximumFramesPerMovie)")
        break
      }
      let frame: Image
      do {
        frame = try reader.currentFrame().limited(toMaxSide: settings.maximumSide)
      } catch {
        decodeFailures += 1
        continue
      }
      let record = FrameRecord(
        index: index, time: Double(index) / fps, sharpness: try frame.sharpness(maxSide: 0),
        differenceHash: try frame.differenceHash(), dropReason: nil)
      do {
        try frame.writeJPEG(
          to: folder.appendingPathComponent(record.fileName).path, quality: settings.jpegQuality)
      } catch let error as MediaError {
        throw DatasetError(
          .io, path: folder.path,
          "cannot write frame \(index) (\(error.message)); check free disk space")
      }
      frames.append(record)
    }
    let decoded = reader.frameIndex + 1
    progress(decoded, info.claimedFrameCount)
    if frames.isEmpty {
      throw DatasetError(
        .noFrames, path: path,
        "no frame could be decoded (the movie is truncated or corrupt); copy or export it again")
    }
    if decodeFailures > 0 {
      warnings.append("\(decodeFailures) sampled frames could not be decoded and were skipped")
    }
    // Headers are often a few frames off; only a real shortfall is worth a warning.
    if info.claimedFrameCount > 0, decoded < info.claimedFrameCount * 9 / 10,
      !warnings.contains(where: { $0.hasPrefix("stopped") })
    {
      warnings.append(
        "the header claims \(info.claimedFrameCount) frames but only \(decoded) decode (truncated or damaged movie); extracted what decodes"
      )
    }
    if settings.qualityFilter {
      let reasons = QualityFilter(settings: settings).judge(
        sharpness: frames.map(\.sharpness), hashes: frames.map(\.differenceHash))
      let dropped = folder.appendingPathComponent(Self.droppedFolderName)
      for position in frames.indices {
        frames[position].dropReason = reasons[position]
        if reasons[position] != nil {
          // Kept aside (never trained on) so a person can see what the filter dropped.
          let file = folder.appendingPathComponent(frames[position].fileName)
          try? FileManager.default.createDirectory(at: dropped, withIntermediateDirectories: true)
          if (try? FileManager.default.moveItem(
            at: file, to: dropped.appendingPathComponent(frames[position].fileName))) == nil
          {
            try? FileManager.default.removeItem(at: file)
          }
        }
      }
    }
    return Output(video: info, decodedFrameCount: decoded, frames: frames, warnings: warnings)
  }

  /// The image format a file's first bytes announce, if any: FFmpeg would open a renamed photo
  /// as a one-frame "movie".
  static func imageKind(path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    let head = [UInt8]((try? handle.read(upToCount: 8)) ?? Data())
    if head.starts(with: [0xFF, 0xD8, 0xFF]) { return "JPEG" }
    if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "PNG" }
    if head.starts(with: Array("GIF8".utf8)) { return "GIF" }
    return nil
  }
}
