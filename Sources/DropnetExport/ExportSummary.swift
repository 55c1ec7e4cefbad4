import Foundation

/// The `<name>.json` written beside the model files: what the model is, where it came from,
/// and each file with the SHA-256 of its exact bytes, for the daemon, sync jobs and people.
public struct ExportSummary: Codable, Sendable, Equatable {
  /// One exported file.
  public struct File: Codable, Sendable, Equatable {
    /// The format (`mlmodel`, `onnx`, `tflite`).
    public var format: ExportFormat
    /// The file name, e.g. "Gestures.onnx".
    public var file: String
    /// Lower-case hex SHA-256 of the file's bytes.
    public var sha256: String
    /// Size in bytes.
    public var byteCount: Int
    /// What loads it, e.g. "CoreML specification 1 (iOS 11)", "ONNX opset 13 (IR 7)".
    public var runtime: String

    /// Creates an entry.
    public init(format: ExportFormat, file: String, sha256: String, byteCount: Int, runtime: String)
    {
      self.format = format
      self.file = file
      self.sha256 = sha256
      self.byteCount = byteCount
      self.runtime = runtime
    }
  }

  /// Counts exports to this name in this folder: 1, 2, ...; also the version inside every
  /// file (CoreML `versionString`, ONNX `model_version`, TFLite metadata `version`).
  public var exportVersion: Int
  /// The files written, in `ExportFormat.allCases` order.
  public var files: [File]
  /// "float32" or "float16".
  public var weightPrecision: String
  /// Whether the CoreML model's last inner product is updatable on device.
  public var updatable: Bool
  /// The CoreML specification version declared, when a .mlmodel was written.
  public var specificationVersion: Int?
  /// The oldest iOS that loads the .mlmodel, e.g. "iOS 11", when one was written.
  public var minimumIOS: String?
  /// Class labels in output order.
  public var classLabels: [String]
  /// ISO 8601 time of the export.
  public var exportedAt: String
  /// SHA-256 of the weights the checkpoint started from, if known.
  public var baseWeightsSHA256: String?
  /// The checkpoint's own metadata entries (training date, frame counts, validation metrics).
  public var checkpointMetadata: [String: String]

  /// The entry of `format`; nil when it was not exported.
  public func file(_ format: ExportFormat) -> File? {
    files.first { $0.format == format }
  }

  /// The SHA-256 of the first file: the .mlmodel when one was written (what `PublishedModel`
  /// records).
  public var modelSHA256: String { files.first?.sha256 ?? "" }
}
