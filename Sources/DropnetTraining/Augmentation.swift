import DropnetArchitecture
import DropnetMedia
import Foundation

/// On-the-fly image augmentation: one random affine warp (rotation, zoom,
/// shift, optional flip) and one random brightness gain and channel shift per image.
///
/// Order: the image is resized to `outputSide` x `outputSide` (the plain resize, as Keras'
/// `flow_from_directory` does at load time), then warped once with the composed matrix, then
/// every byte v becomes `saturate(v * brightness + channelShift)`. Identity settings give the
/// plain resize exactly. Labels are not involved: the result is pixels only.
///
/// Geometry (destination pixel centres, origin top-left, y down, centre c = (side-1)/2):
///
///     p' = c + shift + R(angle) * Z^-1 * F * (p - c)
///
/// - `angle` uniform in [-rotationRange, rotationRange] degrees; positive turns the content
///   counter-clockwise on screen (OpenCV's `getRotationMatrix2D` sense);
/// - Z = diag(zx, zy), each uniform in [1 - zoomRange, 1 + zoomRange] as in Keras: the share
///   of the source one output spans per axis (0.7 enlarges the centre, 1.3 shrinks the content
///   and fills the border);
/// - shift = (uniform +-widthShiftRange * side, uniform +-heightShiftRange * side) pixels,
///   positive moves the content right and down;
/// - F mirrors x when a horizontal flip is drawn (probability 1/2 when enabled).
///
/// Brightness: the seed's Keras `brightness_range=[0.1, 0.9]` multiplies every image by 0.1-0.9,
/// so every training image is darker than any photo the model later sees. The default here is
/// 0.6-1.4, centred on 1. The channel shift adds one value uniform in +-channelShiftRange to
/// every channel, as Keras' `apply_channel_shift` does, clamped to 0...255 (Keras clamps to the
/// image's own min and max).
public struct Augmentation: Sendable, Hashable {
  /// Largest rotation in degrees, either way.
  public var rotationRange = 45.0
  /// Zoom factors are drawn in [1 - zoomRange, 1 + zoomRange] per axis.
  public var zoomRange = 0.3
  /// Largest horizontal shift as a fraction of the width.
  public var widthShiftRange = 0.2
  /// Largest vertical shift as a fraction of the height.
  public var heightShiftRange = 0.2
  /// Brightness gain range (1...1 = off).
  public var brightnessRange: ClosedRange<Double> = 0.6...1.4
  /// Largest channel shift in byte levels, either way.
  public var channelShiftRange = 50.0
  /// Mirror half of the images left to right (off: text and handedness can matter).
  public var horizontalFlip = false
  /// How pixels from outside the source are filled.
  public var border: Image.Border = .replicate
  /// Side of the square output in pixels (MobileNet v1's 224).
  public var outputSide = 224

  /// The seed's settings (with the brightness default above).
  public init() {}

  /// Settings that change nothing: the output is the plain resize.
  public static var identity: Augmentation {
    var settings = Augmentation()
    settings.rotationRange = 0
    settings.zoomRange = 0
    settings.widthShiftRange = 0
    settings.heightShiftRange = 0
    settings.brightnessRange = 1...1
    settings.channelShiftRange = 0
    settings.horizontalFlip = false
    return settings
  }

  /// One draw of the random parameters.
  public struct Transform: Sendable, Hashable {
    /// Degrees, positive counter-clockwise on screen.
    public var angle = 0.0
    /// Share of the source spanned per axis (1 = no zoom).
    public var zoomX = 1.0
    public var zoomY = 1.0
    /// Pixels, positive right and down.
    public var shiftX = 0.0
    public var shiftY = 0.0
    public var flip = false
    /// Gain applied to every byte.
    public var brightness = 1.0
    /// Byte levels added to every channel.
    public var channelShift = 0.0

    public init() {}

    /// The forward 2x3 matrix (row-major) for a `side` x `side` image.
    public func matrix(side: Int) -> [Double] {
      let centre = Double(side - 1) / 2
      let radians = angle * Double.pi / 180
      let (cosine, sine) = (cos(radians), sin(radians))
      let mirror = flip ? -1.0 : 1.0
      // Linear part A = R * Z^-1 * F with R = [[cos, sin], [-sin, cos]] (y points down).
      let a = cosine * mirror / zoomX
      let b = sine / zoomY
      let c = -sine * mirror / zoomX
      let d = cosine / zoomY
      // Translation keeps the centre fixed, then shifts: t = c + shift - A * c.
      return [
        a, b, centre + shiftX - (a * centre + b * centre),
        c, d, centre + shiftY - (c * centre + d * centre),
      ]
    }

    /// Whether the warp is the identity (the warp is then skipped).
    public var isIdentityGeometry: Bool {
      angle == 0 && zoomX == 1 && zoomY == 1 && shiftX == 0 && shiftY == 0 && !flip
    }
  }

  /// Draws the parameters for one image from `random`.
  public func drawTransform(using random: inout SeededRandom) -> Transform {
    var transform = Transform()
    transform.angle = random.uniform(-rotationRange...rotationRange)
    transform.zoomX = random.uniform((1 - zoomRange)...(1 + zoomRange))
    transform.zoomY = random.uniform((1 - zoomRange)...(1 + zoomRange))
    let side = Double(outputSide)
    transform.shiftX = random.uniform(-widthShiftRange...widthShiftRange) * side
    transform.shiftY = random.uniform(-heightShiftRange...heightShiftRange) * side
    transform.flip = horizontalFlip && random.next() & 1 == 1
    transform.brightness = random.uniform(brightnessRange)
    transform.channelShift = random.uniform(-channelShiftRange...channelShiftRange)
    return transform
  }

  /// Checks the ranges; throws `.invalidSetting` saying which one is wrong.
  public func validate() throws {
    func require(_ condition: Bool, _ message: String) throws {
      if !condition { throw TrainingError(.invalidSetting, message) }
    }
    try require(rotationRange >= 0 && rotationRange <= 180, "rotation range must be 0-180 degrees")
    try require(zoomRange >= 0 && zoomRange < 1, "zoom range must be at least 0 and below 1")
    try require(
      widthShiftRange >= 0 && widthShiftRange <= 1 && heightShiftRange >= 0
        && heightShiftRange <= 1, "shift ranges must be fractions 0-1")
    try require(brightnessRange.lowerBound > 0, "brightness gains must be above 0")
    try require(
      channelShiftRange >= 0 && channelShiftRange <= 255, "channel shift must be 0-255 levels")
    try require(outputSide > 0, "output side must be positive")
  }

  /// `image` resized to the output side and transformed by `transform`.
  public func apply(_ transform: Transform, to image: Image) throws -> Image {
    var result = image
    if image.width != outputSide || image.height != outputSide {
      result = try image.resized(width: outputSide, height: outputSide)
    }
    if !transform.isIdentityGeometry {
      result = try result.warpedAffine(
        matrix: transform.matrix(side: outputSide), width: outputSide, height: outputSide,
        border: border)
    }
    if transform.brightness != 1 || transform.channelShift != 0 {
      result = try result.scaledAndShifted(
        gain: transform.brightness, offset: transform.channelShift)
    }
    return result
  }

  /// `image` with freshly drawn random parameters.
  public func apply(to image: Image, using random: inout SeededRandom) throws -> Image {
    try apply(drawTransform(using: &random), to: image)
  }
}
