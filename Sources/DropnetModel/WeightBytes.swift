import Foundation

/// Weights as the bytes every exported format stores: little-endian IEEE 754 single floats
/// (ONNX raw data, TFLite buffers) or half floats (CoreML's `WeightParams.float16Value`, ONNX
/// FLOAT16 and TFLite FLOAT16 tensors), row-major.
public enum WeightBytes {
  /// `values` as little-endian single-precision floats, four bytes each.
  public static func float32(_ values: [Float]) -> Data {
    littleEndian(values.map(\.bitPattern))
  }

  /// `values` as little-endian 32-bit integers (shape constants).
  public static func int32(_ values: [Int32]) -> Data {
    littleEndian(values)
  }

  private static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> Data {
    let width = MemoryLayout<T>.size
    var bytes = [UInt8](repeating: 0, count: values.count * width)
    for (index, value) in values.enumerated() {
      for byte in 0..<width {
        bytes[width * index + byte] = UInt8(truncatingIfNeeded: value >> (8 * byte))
      }
    }
    return Data(bytes)
  }

  /// `values` rounded to the nearest half-precision value, two bytes each, little-endian.
  public static func float16(_ values: [Float]) -> Data {
    var bytes = [UInt8](repeating: 0, count: values.count * 2)
    for (index, value) in values.enumerated() {
      let bits = Float16(value).bitPattern
      bytes[2 * index] = UInt8(truncatingIfNeeded: bits)
      bytes[2 * index + 1] = UInt8(truncatingIfNeeded: bits >> 8)
    }
    return Data(bytes)
  }

  /// The values packed by `float16`, widened back to Float (exactly: every half is a Float).
  public static func float16Values(_ bytes: Data) -> [Float] {
    bytes.withUnsafeBytes { buffer in
      (0..<(buffer.count / 2)).map { index in
        let bits = UInt16(buffer[2 * index]) | (UInt16(buffer[2 * index + 1]) << 8)
        return Float(Float16(bitPattern: bits))
      }
    }
  }
}
