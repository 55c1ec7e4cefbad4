import CDNNL

/// The number format the network's convolutions and activations compute in.
///
/// `bfloat16` keeps float32's 8-bit exponent with an 8-bit mantissa: half the bytes per
/// activation, and on CPUs with AVX-512 BF16 (or AMX) oneDNN's dot products run at about twice
/// the float32 rate. Weights are kept in float32 and converted for each use (master weights);
/// biases, batch-norm statistics, gradients of trained weights, the pooled features and
/// everything after them stay float32.
public enum Precision: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
  case float32
  case bfloat16

  /// `bfloat16` where it pays: the CPU runs it natively (`CPUEngine.hasNativeBFloat16`) and a
  /// convolution measured at start-up runs at least 1.25x float32's speed in it
  /// (`bfloat16Speedup`); else `float32`.
  public static var automatic: Precision {
    PrecisionCalibration.bfloat16Speedup >= 1.25 ? .bfloat16 : .float32
  }

  /// bfloat16 convolutions' speed over float32's on this CPU, measured once per process (1
  /// without native bfloat16).
  public static var bfloat16Speedup: Double { PrecisionCalibration.bfloat16Speedup }

  /// Parses `float32`, `bfloat16` or `auto` (`automatic`).
  public init?(setting: String) {
    switch setting {
    case "auto": self = Precision.automatic
    case "float32", "fp32": self = .float32
    case "bfloat16", "bf16": self = .bfloat16
    default: return nil
    }
  }

  public var description: String { rawValue }

  /// oneDNN's data type.
  var dataType: dnnl_data_type_t {
    switch self {
    case .float32: dnnl_f32
    case .bfloat16: dnnl_bf16
    }
  }

  /// Bytes per element.
  var elementSize: Int {
    switch self {
    case .float32: 4
    case .bfloat16: 2
    }
  }
}
