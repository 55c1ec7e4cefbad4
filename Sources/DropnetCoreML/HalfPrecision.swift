import Foundation

/// IEEE 754 half-precision packing of weights, as CoreML's `WeightParams.float16Value` stores
/// them: two bytes per value, little-endian.
enum HalfPrecision {
  /// `values` rounded to the nearest half-precision value, packed little-endian.
  static func encode(_ values: [Float]) -> Data {
    var bytes = [UInt8](repeating: 0, count: values.count * 2)
    for (index, value) in values.enumerated() {
      let bits = Float16(value).bitPattern
      bytes[2 * index] = UInt8(truncatingIfNeeded: bits)
      bytes[2 * index + 1] = UInt8(truncatingIfNeeded: bits >> 8)
    }
    return Data(bytes)
  }

  /// The values packed by `encode`, widened back to Float (exactly: every half is a Float).
  static func decode(_ bytes: Data) -> [Float] {
    bytes.withUnsafeBytes { buffer in
      (0..<(buffer.count / 2)).map { index in
        let bits = UInt16(buffer[2 * index]) | (UInt16(buffer[2 * index + 1]) << 8)
        return Float(Float16(bitPattern: bits))
      }
    }
  }
}
