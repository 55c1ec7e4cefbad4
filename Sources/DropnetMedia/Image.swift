import DropnetCV

/// An 8-bit image in OpenCV's memory (BGR for colour, packed rows).
public final class Image {
  let handle: OpaquePointer

  init(handle: OpaquePointer) { self.handle = handle }
  deinit { dncv_image_free(handle) }

  /// Decodes an image file (JPEG, PNG, ...) as BGR.
  public convenience init(contentsOf path: String) throws {
    var out: OpaquePointer?
    try MediaError.check(path: path) { dncv_image_read(path, &out, $0, $1) }
    self.init(handle: out!)
  }

  /// Copies packed bytes: 3 channels BGR or 1 channel gray.
  public convenience init(bytes: [UInt8], width: Int, height: Int, channelCount: Int) throws {
    precondition(bytes.count == width * height * channelCount, "byte count must match the size")
    var out: OpaquePointer?
    try MediaError.check { error, capacity in
      bytes.withUnsafeBufferPointer {
        dncv_image_create(
          $0.baseAddress, Int32(width), Int32(height), Int32(channelCount), &out, error, capacity)
      }
    }
    self.init(handle: out!)
  }

  public var width: Int { Int(dncv_image_width(handle)) }
  public var height: Int { Int(dncv_image_height(handle)) }
  public var channelCount: Int { Int(dncv_image_channels(handle)) }

  /// The pixels, row-major, packed; BGR order for colour images.
  public var bytes: [UInt8] {
    let count = width * height * channelCount
    return [UInt8](UnsafeBufferPointer(start: dncv_image_data(handle), count: count))
  }

  /// A copy resized to exactly `width` x `height`.
  public func resized(width: Int, height: Int) throws -> Image {
    var out: OpaquePointer?
    try MediaError.check { dncv_image_resize(handle, Int32(width), Int32(height), &out, $0, $1) }
    return Image(handle: out!)
  }

  /// A copy whose longer side is at most `maxSide` (aspect kept); `self` when already small.
  public func limited(toMaxSide maxSide: Int) throws -> Image {
    let longer = max(width, height)
    guard maxSide > 0, longer > maxSide else { return self }
    let scale = Double(maxSide) / Double(longer)
    return try resized(
      width: max(1, Int((Double(width) * scale).rounded())),
      height: max(1, Int((Double(height) * scale).rounded())))
  }

  /// A copy rotated clockwise by a multiple of 90 degrees.
  public func rotated(clockwiseDegrees: Int) throws -> Image {
    var out: OpaquePointer?
    try MediaError.check { dncv_image_rotate(handle, Int32(clockwiseDegrees), &out, $0, $1) }
    return Image(handle: out!)
  }

  /// Variance of the Laplacian on a copy whose longer side is at most `maxSide`.
  public func sharpness(maxSide: Int = 320) throws -> Double {
    var value = 0.0
    try MediaError.check { dncv_image_sharpness(handle, Int32(maxSide), &value, $0, $1) }
    return value
  }

  /// 64-bit difference hash; compare two with `(a ^ b).nonzeroBitCount`.
  public func differenceHash() throws -> UInt64 {
    var value: UInt64 = 0
    try MediaError.check { dncv_image_dhash(handle, &value, $0, $1) }
    return value
  }

  /// Writes a JPEG file.
  public func writeJPEG(to path: String, quality: Int = 90) throws {
    try MediaError.check(path: path) { dncv_image_write_jpeg(handle, path, Int32(quality), $0, $1) }
  }

  /// The image encoded as JPEG, in memory.
  public func jpegData(quality: Int = 90) throws -> [UInt8] {
    var out: UnsafeMutablePointer<UInt8>?
    var count = 0
    try MediaError.check { dncv_image_encode_jpeg(handle, Int32(quality), &out, &count, $0, $1) }
    defer { dncv_bytes_free(out) }
    return [UInt8](UnsafeBufferPointer(start: out, count: count))
  }

  /// Writes the file format the extension names (.png, .jpg).
  public func write(to path: String) throws {
    try MediaError.check(path: path) { dncv_image_write(handle, path, $0, $1) }
  }
}
