/// The CoreML specification versions dropnet declares, and the OS each needs.
///
/// The network uses only layers of version 1 (convolution, unary THRESHOLD for ReLU6,
/// pooling, inner product, ReLU, softmax), so the declared version is the lowest the options
/// allow.
public enum CoreMLSpecificationVersion {
  /// iOS 11, macOS 10.13: every layer dropnet writes.
  public static let iOS11 = 1
  /// iOS 11.2, macOS 10.13.2: half-precision weights.
  public static let iOS11Point2 = 2
  /// iOS 13, macOS 10.15: updatable models (on-device training).
  public static let iOS13 = 4

  /// The lowest version that allows half-precision weights and an updatable layer as asked.
  public static func minimum(float16: Bool, updatable: Bool) -> Int {
    if updatable { return iOS13 }
    if float16 { return iOS11Point2 }
    return iOS11
  }

  /// The oldest iOS that reads `version`, for messages and the summary ("iOS 11.2").
  public static func minimumIOS(_ version: Int) -> String {
    switch version {
    case ...1: return "iOS 11"
    case 2: return "iOS 11.2"
    case 3: return "iOS 12"
    case 4: return "iOS 13"
    case 5: return "iOS 14"
    case 6: return "iOS 15"
    case 7: return "iOS 16"
    case 8: return "iOS 17"
    default: return "iOS 18 or later"
    }
  }
}
