import DropnetCV

extension Image {
  /// How a warp fills destination pixels whose source lies outside the image.
  public enum Border: Sendable, Hashable {
    /// Repeat the nearest edge pixel (Keras' default `fill_mode="nearest"`).
    case replicate
    /// Mirror at the edge without repeating it (Keras' `fill_mode="reflect"`).
    case reflect

    var shimValue: dncv_border {
      switch self {
      case .replicate: DNCV_BORDER_REPLICATE
      case .reflect: DNCV_BORDER_REFLECT
      }
    }
  }

  /// A `width` x `height` copy warped by the forward affine map `matrix` (2x3, row-major,
  /// source pixel centre to destination pixel centre), with bilinear interpolation.
  public func warpedAffine(
    matrix: [Double], width: Int, height: Int, border: Border = .replicate
  ) throws -> Image {
    precondition(matrix.count == 6, "an affine matrix has 2 rows of 3")
    var out: OpaquePointer?
    try MediaError.check { error, capacity in
      dncv_image_warp_affine(
        handle, matrix, Int32(width), Int32(height), border.shimValue, &out, error, capacity)
    }
    return Image(handle: out!)
  }

  /// A copy where every byte v becomes v * gain + offset, rounded half to even and clamped
  /// to 0...255.
  public func scaledAndShifted(gain: Double, offset: Double) throws -> Image {
    var out: OpaquePointer?
    try MediaError.check { dncv_image_scale_shift(handle, gain, offset, &out, $0, $1) }
    return Image(handle: out!)
  }
}
