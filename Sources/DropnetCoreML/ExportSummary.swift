import Foundation

/// The `<Name>.json` written beside `<Name>.mlmodel`: what the model is, where it came from and
/// the SHA-256 of the exact model bytes, for the daemon and for people.
public struct ExportSummary: Codable, Sendable, Equatable {
  /// The model's file name, e.g. "Gestures.mlmodel".
  public var modelFile: String
  /// Counts exports to this name in this folder: 1, 2, ...; also the model's versionString.
  public var exportVersion: Int
  /// Lower-case hex SHA-256 of the .mlmodel bytes.
  public var modelSHA256: String
  /// Size of the .mlmodel in bytes.
  public var modelByteCount: Int
  /// The declared CoreML specification version.
  public var specificationVersion: Int
  /// The oldest iOS that loads the model, e.g. "iOS 11".
  public var minimumIOS: String
  /// "float32" or "float16".
  public var weightPrecision: String
  /// Whether the last inner product is updatable on device.
  public var updatable: Bool
  /// Class labels in output order.
  public var classLabels: [String]
  /// ISO 8601 time of the export.
  public var exportedAt: String
  /// SHA-256 of the weights the checkpoint started from, if known.
  public var baseWeightsSHA256: String?
  /// The checkpoint's own metadata entries (training date, frame counts, validation metrics).
  public var checkpointMetadata: [String: String]
}
