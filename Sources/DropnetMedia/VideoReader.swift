import DropnetCV

/// What a movie's container says about it.
public struct VideoInfo: Sendable, Hashable, Codable {
  /// Decoded frame size before rotation.
  public var width: Int
  public var height: Int
  /// Frames per second (0 when the container does not say).
  public var framesPerSecond: Double
  /// Frame count the header claims; it can be wrong (0 when unknown).
  public var claimedFrameCount: Int
  /// Clockwise rotation that shows decoded frames upright (display matrix).
  public var rotationClockwiseDegrees: Int
  /// Codec FourCC, e.g. "h264" or "hevc".
  public var codec: String
}

/// Reads a movie frame by frame with OpenCV's FFmpeg backend; never holds more than one frame.
public final class VideoReader {
  private let handle: OpaquePointer
  public let path: String
  public let info: VideoInfo
  /// Frames advanced over so far (grabbed, whether retrieved or not).
  public private(set) var frameIndex = -1

  public init(path: String) throws {
    var out: OpaquePointer?
    var raw = dncv_video_info()
    try MediaError.check(path: path) { dncv_video_open(path, &out, &raw, $0, $1) }
    handle = out!
    self.path = path
    let codec = withUnsafeBytes(of: raw.codec) { bytes in
      String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    info = VideoInfo(
      width: Int(raw.width), height: Int(raw.height), framesPerSecond: raw.fps,
      claimedFrameCount: Int(raw.claimed_frame_count),
      rotationClockwiseDegrees: Int(raw.rotation_clockwise_degrees), codec: codec)
  }

  deinit { dncv_video_close(handle) }

  /// Moves to the next frame without converting it; false at the end of the stream.
  public func advance() throws -> Bool {
    var ended = false
    try MediaError.check(path: path) { error, capacity in
      let status = dncv_video_grab(handle, error, capacity)
      if status == DNCV_END_OF_STREAM {
        ended = true
        return DNCV_OK
      }
      return status
    }
    if ended { return false }
    frameIndex += 1
    return true
  }

  /// The current frame as BGR, rotated upright by the container's rotation metadata.
  public func currentFrame() throws -> Image {
    var out: OpaquePointer?
    try MediaError.check(path: path) { dncv_video_retrieve(handle, &out, $0, $1) }
    let frame = Image(handle: out!)
    guard info.rotationClockwiseDegrees != 0 else { return frame }
    return try frame.rotated(clockwiseDegrees: info.rotationClockwiseDegrees)
  }
}
