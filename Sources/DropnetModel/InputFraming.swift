/// How a photo of any shape becomes the network's square input, stated as what an iOS app
/// asks Vision for (`VNCoreMLRequest.imageCropAndScaleOption`), so that dropnet trains,
/// validates, gates and predicts on the very view the phone gives the exported model.
public enum InputFraming: String, Sendable, Hashable, Codable, CaseIterable,
  CustomStringConvertible
{
  /// The centred square of the whole image (its shorter side), resized: Vision's default
  /// `.centerCrop`.
  case centerCrop = "center_crop"
  /// The whole image squashed to a square: Vision's `.scaleFill`.
  case scaleFill = "scale_fill"

  /// The `checkpoint.metadata.extra` key and the exported models' metadata key.
  public static let metadataKey = "input_framing"

  /// The framing a checkpoint was trained with (`centerCrop` when it does not say: the
  /// imported ImageNet weights).
  public init(checkpoint: Checkpoint) {
    self = checkpoint.metadata.extra[Self.metadataKey].flatMap(InputFraming.init) ?? .centerCrop
  }

  public var description: String { rawValue }

  /// The Swift line an app uses with a model of this framing.
  public var visionOption: String {
    switch self {
    case .centerCrop: "request.imageCropAndScaleOption = .centerCrop"
    case .scaleFill: "request.imageCropAndScaleOption = .scaleFill"
    }
  }

  /// The part of a `width` x `height` image that is resized to the input: the centred square
  /// for `centerCrop`, the whole image for `scaleFill`.
  public func sourceRectangle(width: Int, height: Int) -> ImagePreprocessor.CropRectangle {
    switch self {
    case .centerCrop:
      let side = min(width, height)
      return ImagePreprocessor.CropRectangle(
        x: (width - side) / 2, y: (height - side) / 2, width: side, height: side)
    case .scaleFill:
      return ImagePreprocessor.CropRectangle(x: 0, y: 0, width: width, height: height)
    }
  }
}
