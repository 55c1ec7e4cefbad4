import Crypto
import DropnetCoreML
import DropnetModel
import DropnetONNX
import DropnetStorage
import DropnetTFLite
import Foundation

/// Exports a MobileNet v1 checkpoint into a folder in one or more formats (`ExportFormat`),
/// with one summary: what is the same for every format (the network, its version, metadata,
/// the summary, atomic writes, name checks) is done here once; the format writers only turn
/// the `InferenceNetwork` and `ExportMetadata` into bytes.
public enum ModelExporter {
  /// Reads the checkpoint at `checkpointURL` and exports it (see `export(checkpoint:...)`).
  public static func export(
    checkpointAt checkpointURL: URL, name: String, to folder: URL,
    formats: [ExportFormat] = ExportFormat.allCases, options: ExportOptions = ExportOptions()
  ) throws -> ExportResult {
    let checkpoint: Checkpoint
    do {
      checkpoint = try Checkpoint.read(from: checkpointURL)
    } catch let error as ModelError {
      throw ExportError(
        code: .checkpointUnreadable, file: checkpointURL.path,
        message: "cannot export: \(error.message); pass a checkpoint written by "
          + "`dropnet weights import` or `dropnet train`")
    }
    return try export(
      checkpoint: checkpoint, name: name, to: folder, formats: formats, options: options)
  }

  /// Writes `<folder>/<name>.<extension>` for each of `formats` and `<folder>/<name>.json`
  /// (creating `folder` if needed). Everything is built before the folder is touched, so a
  /// bad checkpoint leaves nothing behind; then each file is written atomically (temporary
  /// file, fsync, rename), the model files first and the summary, which names each file with
  /// its SHA-256, last: a reader sees the previous file or the new one, never a part.
  ///
  /// The export version (inside every file: CoreML `versionString`, ONNX `model_version`,
  /// TFLite metadata `version`) is one more than the largest of the version in the summary
  /// already in the folder and the versions inside the model files already there, of any
  /// format: after a failure between writes, the files written hold the newest number and the
  /// next export still counts past it.
  ///
  /// The metadata entries (CoreML `userDefined`, ONNX `metadata_props`, TFLite
  /// `dropnet_metadata`) hold the checkpoint's own entries (for a checkpoint from `dropnet
  /// train`, the `TrainingFacts` keys: `training_date`, `classes`,
  /// `training_frames_per_class`, `validation_frames_per_class`, `validation_accuracy`,
  /// `validation_loss`, `best_epoch`, `fine_tune_mode`, `split`, `training_dropnet_version`,
  /// `dataset_sha256`), then `architecture`, `class_count`, `base_weights_sha256`,
  /// `base_weights_file`, `dropnet_version` (the exporting dropnet), `exported_at`,
  /// `weight_precision`, `input_framing` (what part of a photo the app gives the model), then
  /// `options.userDefined`; the `.mlmodel` also `com.apple.coreml.model.preview.type`
  /// (`CoreMLModelWriter.previewTypeKey`).
  public static func export(
    checkpoint: Checkpoint, name: String, to folder: URL,
    formats: [ExportFormat] = ExportFormat.allCases, options: ExportOptions = ExportOptions()
  ) throws -> ExportResult {
    try checkName(name)
    let formats = ExportFormat.allCases.filter(formats.contains)
    guard !formats.isEmpty else {
      throw ExportError(
        code: .unknownFormat,
        message: "no format to export; name one or more of "
          + ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))
    }
    let summaryURL = folder.appendingPathComponent(name + ".json")
    func url(_ format: ExportFormat) -> URL {
      folder.appendingPathComponent(name + "." + format.fileExtension)
    }
    let previousVersion = ExportFormat.allCases.reduce(previousExportVersion(summaryURL)) {
      max($0, previousModelVersion(url($1), format: $1))
    }
    let network = try makeNetwork(checkpoint: checkpoint, head: options.head)
    let metadata = makeMetadata(
      checkpoint: checkpoint, name: name, version: previousVersion + 1, options: options)

    var encoded: [(format: ExportFormat, bytes: Data)] = []
    var files: [ExportSummary.File] = []
    for format in formats {
      let bytes = try modelBytes(format, network: network, metadata: metadata, options: options)
      encoded.append((format, bytes))
      files.append(
        ExportSummary.File(
          format: format, file: url(format).lastPathComponent,
          sha256: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(),
          byteCount: bytes.count, runtime: runtime(format, options: options)))
    }
    let specificationVersion = CoreMLSpecificationVersion.minimum(
      float16: options.float16Weights, updatable: options.updatable)
    let writesCoreML = formats.contains(.mlmodel)
    let summary = ExportSummary(
      exportVersion: metadata.version, files: files, weightPrecision: metadata.weightPrecision,
      updatable: writesCoreML && options.updatable,
      specificationVersion: writesCoreML ? specificationVersion : nil,
      minimumIOS: writesCoreML ? CoreMLSpecificationVersion.minimumIOS(specificationVersion) : nil,
      classLabels: network.labels, exportedAt: isoDate(options.exportDate),
      baseWeightsSHA256: checkpoint.metadata.sourceSHA256,
      checkpointMetadata: checkpoint.metadata.extra)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let summaryBytes = try encoder.encode(summary)

    try prepareFolder(folder)
    for (format, bytes) in encoded { try write(bytes, to: url(format)) }
    try write(summaryBytes, to: summaryURL)
    return ExportResult(
      modelURLs: Dictionary(uniqueKeysWithValues: formats.map { ($0, url($0)) }),
      summaryURL: summaryURL, summary: summary)
  }

  /// The export version inside a model file's bytes, or nil when `data` is not a `format`
  /// model with a numeric version.
  public static func version(ofModel data: Data, format: ExportFormat) -> Int? {
    switch format {
    case .mlmodel: CoreMLModelWriter.version(ofModel: data)
    case .onnx: ONNXModelWriter.version(ofModel: data)
    case .tflite: TFLiteModelWriter.version(ofModel: data)
    }
  }

  private static func modelBytes(
    _ format: ExportFormat, network: InferenceNetwork, metadata: ExportMetadata,
    options: ExportOptions
  ) throws -> Data {
    do {
      switch format {
      case .mlmodel:
        return try CoreMLModelWriter.bytes(
          network: network, metadata: metadata, updatable: options.updatable)
      case .onnx:
        return try ONNXModelWriter.bytes(network: network, metadata: metadata)
      case .tflite:
        return try TFLiteModelWriter.bytes(network: network, metadata: metadata)
      }
    } catch let error as ModelError {
      throw exportError(error)
    }
  }

  /// What loads a file of `format`, for the summary.
  private static func runtime(_ format: ExportFormat, options: ExportOptions) -> String {
    switch format {
    case .mlmodel:
      let version = CoreMLSpecificationVersion.minimum(
        float16: options.float16Weights, updatable: options.updatable)
      return "CoreML specification \(version) (\(CoreMLSpecificationVersion.minimumIOS(version)))"
    case .onnx:
      return "ONNX opset \(ONNXModelWriter.opsetVersion) (IR \(ONNXModelWriter.irVersion))"
    case .tflite:
      return "TFLite builtin operators with image classifier metadata (LiteRT, MediaPipe Tasks)"
    }
  }

  /// The checkpoint's network, checked before anything is written.
  private static func makeNetwork(checkpoint: Checkpoint, head: ClassifierHead?) throws
    -> InferenceNetwork
  {
    do {
      return try InferenceNetwork(checkpoint: checkpoint, head: head)
    } catch let error as ModelError {
      throw exportError(error)
    }
  }

  private static func exportError(_ error: ModelError) -> ExportError {
    let code: ExportError.Code =
      switch error.code {
      case .invalidMetadata: .missingLabels
      case .invalidHead: .invalidHead
      default: .unsupportedCheckpoint
      }
    return ExportError(code: code, file: error.file, message: error.message)
  }

  private static func makeMetadata(
    checkpoint: Checkpoint, name: String, version: Int, options: ExportOptions
  ) -> ExportMetadata {
    let labels = checkpoint.metadata.classLabels
    let shown = labels.prefix(8).joined(separator: ", ") + (labels.count > 8 ? ", ..." : "")
    var userDefined = checkpoint.metadata.extra
    userDefined["architecture"] = checkpoint.metadata.architecture
    userDefined["class_count"] = String(labels.count)
    userDefined["base_weights_sha256"] = checkpoint.metadata.sourceSHA256
    userDefined["base_weights_file"] = checkpoint.metadata.sourceFileName
    userDefined["dropnet_version"] = options.dropnetVersion
    userDefined["exported_at"] = isoDate(options.exportDate)
    userDefined["weight_precision"] = options.float16Weights ? "float16" : "float32"
    userDefined[InputFraming.metadataKey] = InputFraming(checkpoint: checkpoint).rawValue
    userDefined.merge(options.userDefined) { _, new in new }
    return ExportMetadata(
      name: name, version: version, author: options.author, license: options.license,
      shortDescription: options.shortDescription
        ?? "MobileNet v1 image classifier, \(labels.count) classes (\(shown)), made by dropnet",
      float16Weights: options.float16Weights, userDefined: userDefined)
  }

  private static func checkName(_ name: String) throws {
    let bad =
      name.isEmpty || name.hasPrefix(".") || name.contains("/") || name.contains("\\")
      || name.utf8.count > 200
      || name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    guard !bad else {
      throw ExportError(
        code: .invalidName, file: name,
        message: "the model name must be a plain file name (no '/', no leading '.', no control "
          + "characters, at most 200 bytes), e.g. Gestures")
    }
  }

  /// The exportVersion of the summary already at `url`, or 0 when there is none (or it is not
  /// a summary dropnet wrote).
  private static func previousExportVersion(_ url: URL) -> Int {
    struct Versioned: Decodable { var exportVersion: Int }
    guard let data = try? Data(contentsOf: url),
      let summary = try? JSONDecoder().decode(Versioned.self, from: data)
    else { return 0 }
    return max(0, summary.exportVersion)
  }

  /// The version inside the model already at `url`, or 0 when there is none (or it is not a
  /// model of `format` with a numeric version).
  private static func previousModelVersion(_ url: URL, format: ExportFormat) -> Int {
    guard let data = try? Data(contentsOf: url),
      let version = version(ofModel: data, format: format)
    else { return 0 }
    return max(0, version)
  }

  private static func prepareFolder(_ folder: URL) throws {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) {
      guard isFolder.boolValue else {
        throw ExportError(
          code: .outputNotWritable, file: folder.path,
          message: "the output path is a file, not a folder; pass a folder (it is created if "
            + "missing)")
      }
      return
    }
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
      throw ExportError(
        code: .outputNotWritable, file: folder.path,
        message: "cannot create the output folder (\(error.localizedDescription)); check the "
          + "path and the permissions of its parent")
    }
  }

  private static func write(_ bytes: Data, to url: URL) throws {
    do {
      try AtomicFile.write(bytes, to: url)
    } catch {
      throw ExportError(
        code: .outputNotWritable, file: url.path,
        message: "\(error); nothing was left half-written")
    }
  }

  private static func isoDate(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: date)
  }
}
