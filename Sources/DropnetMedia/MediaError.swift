import DropnetCV

/// An error from decoding, encoding or transforming images and videos.
public struct MediaError: Error, CustomStringConvertible, Sendable {
  /// What went wrong, extensible like swift-log's error codes.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// The file could not be opened or is not a decodable image/video.
    public static let open = Code("open")
    /// A frame or image could not be decoded.
    public static let decode = Code("decode")
    /// A file could not be written.
    public static let write = Code("write")
    /// An argument was out of range.
    public static let argument = Code("argument")
    /// OpenCV failed internally (an exception caught in the shim).
    public static let `internal` = Code("internal")
  }

  public var code: Code
  /// The file involved, when there is one.
  public var path: String?
  /// What happened, in words.
  public var message: String

  public init(code: Code, path: String? = nil, message: String) {
    self.code = code
    self.path = path
    self.message = message
  }

  public var description: String {
    if let path { return "\(path): \(message)" }
    return message
  }

  /// Runs a shim call, turning its status and message into a `MediaError`.
  static func check(
    path: String? = nil,
    _ call: (_ error: UnsafeMutablePointer<CChar>, _ capacity: Int) -> dncv_status
  ) throws {
    var buffer = [CChar](repeating: 0, count: 512)
    let status = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) }
    guard status != DNCV_OK else { return }
    let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    throw MediaError(code: Code(status), path: path, message: message)
  }
}

extension MediaError.Code {
  init(_ status: dncv_status) {
    switch status {
    case DNCV_ERROR_OPEN: self = .open
    case DNCV_ERROR_DECODE: self = .decode
    case DNCV_ERROR_WRITE: self = .write
    case DNCV_ERROR_ARGUMENT: self = .argument
    default: self = .internal
    }
  }
}
