import DropnetArchitecture

/// Turns decoded images into MobileNet v1 input: RGB, 224x224, NHWC, values in [-1, 1].
///
/// What `dropnet` does for training, validation, the gate and prediction alike, and what the
/// phone does for the exported model:
/// 1. take the part of the image the model's `InputFraming` names (the centred square for
///    Vision's default `.centerCrop`), with `crop(_:width:height:to:)`;
/// 2. resize it to 224x224 (the DropnetCV shim's `dncv_image_resize`, area averaging when
///    shrinking);
/// 3. convert the BGR bytes to floats with `tensor(fromBGR:width:height:)`.
public enum ImagePreprocessor {
  /// The preprocessing identifier stored in checkpoint metadata: RGB, (byte - 127.5) / 127.5.
  public static let identifier = "rgb_minus1_1"
  /// Model input side in pixels.
  public static let inputSize = MobileNetV1Architecture.inputSize
  /// A rectangle of pixels, origin at the top-left corner.
  public struct CropRectangle: Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    /// Creates a rectangle.
    public init(x: Int, y: Int, width: Int, height: Int) {
      self.x = x
      self.y = y
      self.width = width
      self.height = height
    }
  }

  /// The pixels of `rectangle` from packed `pixels` (`channelCount` bytes per pixel, rows
  /// packed), as a new packed image.
  public static func crop(
    _ pixels: [UInt8], width: Int, height: Int, channelCount: Int = 3, to rectangle: CropRectangle
  ) throws -> [UInt8] {
    try checkSize(pixels.count, width: width, height: height, channelCount: channelCount)
    guard rectangle.x >= 0, rectangle.y >= 0, rectangle.width > 0, rectangle.height > 0,
      rectangle.x + rectangle.width <= width, rectangle.y + rectangle.height <= height
    else {
      throw ModelError(
        code: .invalidImage,
        message: "crop \(rectangle) does not lie inside the \(width)x\(height) image; compute "
          + "it with InputFraming.sourceRectangle(width:height:)")
    }
    let rowBytes = rectangle.width * channelCount
    var result = [UInt8]()
    result.reserveCapacity(rowBytes * rectangle.height)
    for row in rectangle.y..<(rectangle.y + rectangle.height) {
      let start = (row * width + rectangle.x) * channelCount
      result.append(contentsOf: pixels[start..<(start + rowBytes)])
    }
    return result
  }

  /// The model input for one 224x224 image given as packed BGR bytes (OpenCV's order):
  /// a [1, 224, 224, 3] tensor, RGB, each value (byte - 127.5) / 127.5.
  public static func tensor(fromBGR pixels: [UInt8], width: Int, height: Int) throws -> HostTensor {
    try batch(fromBGR: [pixels], width: width, height: height)
  }

  /// The model input for several 224x224 BGR images: [N, 224, 224, 3], RGB, in [-1, 1].
  public static func batch(fromBGR images: [[UInt8]], width: Int, height: Int) throws
    -> HostTensor
  {
    try batch(images, width: width, height: height, swapRedBlue: true)
  }

  /// The model input for 224x224 images given as packed RGB bytes (as in the reference
  /// fixtures): [N, 224, 224, 3], in [-1, 1].
  public static func batch(fromRGB images: [[UInt8]], width: Int, height: Int) throws
    -> HostTensor
  {
    try batch(images, width: width, height: height, swapRedBlue: false)
  }

  /// One byte mapped to [-1, 1]. Written as (x - 127.5) / 127.5 in Float, the exact operations
  /// TF-slim's preprocessing and the reference fixtures use, so values match bit for bit.
  @inline(__always)
  public static func normalized(_ byte: UInt8) -> Float {
    (Float(byte) - 127.5) / 127.5
  }

  private static func batch(
    _ images: [[UInt8]], width: Int, height: Int, swapRedBlue: Bool
  ) throws -> HostTensor {
    guard width == inputSize, height == inputSize else {
      throw ModelError(
        code: .invalidImage,
        message: "images must be \(inputSize)x\(inputSize), got \(width)x\(height); crop and "
          + "resize first (see ImagePreprocessor)")
    }
    // A lookup table: 256 divisions instead of one per value.
    let table = (0...255).map { normalized(UInt8($0)) }
    let pixelCount = width * height
    var values = [Float](repeating: 0, count: images.count * pixelCount * 3)
    for (imageIndex, pixels) in images.enumerated() {
      try checkSize(pixels.count, width: width, height: height, channelCount: 3)
      let base = imageIndex * pixelCount * 3
      for pixel in 0..<pixelCount {
        let source = pixel * 3
        let first = table[Int(pixels[source])]
        let second = table[Int(pixels[source + 1])]
        let third = table[Int(pixels[source + 2])]
        values[base + source] = swapRedBlue ? third : first
        values[base + source + 1] = second
        values[base + source + 2] = swapRedBlue ? first : third
      }
    }
    return HostTensor(shape: [images.count, height, width, 3], values: values)
  }

  private static func checkSize(_ count: Int, width: Int, height: Int, channelCount: Int) throws {
    guard width > 0, height > 0, count == width * height * channelCount else {
      throw ModelError(
        code: .invalidImage,
        message: "\(count) bytes do not make a \(width)x\(height) image with \(channelCount) "
          + "channels (\(max(0, width * height * channelCount)) bytes); pass packed rows")
    }
  }
}
