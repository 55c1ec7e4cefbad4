/// A file format dropnet exports a model in; the raw value is the file extension.
public enum ExportFormat: String, CaseIterable, Sendable, Codable, CustomStringConvertible {
  /// CoreML `.mlmodel` (iOS, macOS): `CoreMLModelWriter`.
  case mlmodel
  /// ONNX `.onnx` (ONNX Runtime on Android, servers, browsers): `ONNXModelWriter`.
  case onnx
  /// TFLite `.tflite` with metadata (LiteRT, MediaPipe Tasks on Android): `TFLiteModelWriter`.
  case tflite

  /// The file extension, without the dot.
  public var fileExtension: String { rawValue }

  public var description: String { rawValue }

  /// The formats named in `text`, comma-separated (`"mlmodel,onnx,tflite"`; spaces around
  /// names are ignored), in `allCases` order without repeats. Throws `ExportError`
  /// (`.unknownFormat`) naming an unknown one, or when none is named.
  public static func list(_ text: String) throws -> [ExportFormat] {
    var named = Set<ExportFormat>()
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      let name = part.trimmingCharacters(in: .whitespaces).lowercased()
      guard let format = ExportFormat(rawValue: name) else {
        throw ExportError(
          code: .unknownFormat,
          message: "unknown format \"\(name)\"; name one or more of "
            + "\(allCases.map(\.rawValue).joined(separator: ", ")), separated by commas")
      }
      named.insert(format)
    }
    return allCases.filter(named.contains)
  }

  /// `formats` as the comma-separated text `list` reads.
  public static func text(_ formats: [ExportFormat]) -> String {
    formats.map(\.rawValue).joined(separator: ",")
  }
}
