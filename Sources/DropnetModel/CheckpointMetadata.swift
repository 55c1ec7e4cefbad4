import Foundation

/// What a checkpoint says about itself, stored as strings in the safetensors "__metadata__".
public struct CheckpointMetadata: Sendable, Equatable {
  /// The newest checkpoint layout this build writes and reads.
  public static let currentFormatVersion = 1

  /// Metadata keys dropnet owns; `extra` may not use them.
  public enum Key {
    public static let formatVersion = "dropnet_format_version"
    public static let architecture = "architecture"
    public static let preprocessing = "preprocessing"
    public static let classLabels = "class_labels"
    public static let sourceFile = "source_file"
    public static let sourceSHA256 = "source_sha256"
    static let all: Set<String> = [
      formatVersion, architecture, preprocessing, classLabels, sourceFile, sourceSHA256,
    ]
  }

  /// Checkpoint layout version (`currentFormatVersion` when written by this build).
  public var formatVersion: Int
  /// Network architecture, e.g. `MobileNetV1Architecture.identifier`.
  public var architecture: String
  /// How images must be prepared, e.g. `ImagePreprocessor.identifier` ("rgb_minus1_1").
  public var preprocessing: String
  /// One name per output class, in output order (for ImageNet, index 0 is "background").
  public var classLabels: [String]
  /// File name (no folder) of what the weights came from, if known.
  public var sourceFileName: String?
  /// Lower-case hex SHA-256 of that source file, if known.
  public var sourceSHA256: String?
  /// Any other string pairs worth keeping (provenance, training settings).
  public var extra: [String: String]

  /// Creates metadata; `extra` must not use a key from `Key`.
  public init(
    architecture: String, preprocessing: String, classLabels: [String],
    sourceFileName: String? = nil, sourceSHA256: String? = nil, extra: [String: String] = [:],
    formatVersion: Int = CheckpointMetadata.currentFormatVersion
  ) {
    self.formatVersion = formatVersion
    self.architecture = architecture
    self.preprocessing = preprocessing
    self.classLabels = classLabels
    self.sourceFileName = sourceFileName
    self.sourceSHA256 = sourceSHA256
    self.extra = extra
  }

  /// The flat string dictionary written to the file.
  func entries(file: String) throws -> [String: String] {
    let clashes = Set(extra.keys).intersection(Key.all)
    guard clashes.isEmpty else {
      throw ModelError(
        code: .invalidMetadata, file: file,
        message: "extra metadata uses reserved keys \(clashes.sorted()); rename them")
    }
    let labels = try JSONEncoder().encode(classLabels)
    var entries = extra
    entries[Key.formatVersion] = String(formatVersion)
    entries[Key.architecture] = architecture
    entries[Key.preprocessing] = preprocessing
    entries[Key.classLabels] = String(decoding: labels, as: UTF8.self)
    entries[Key.sourceFile] = sourceFileName
    entries[Key.sourceSHA256] = sourceSHA256
    return entries
  }

  /// Reads metadata back from the file's dictionary, checking the keys dropnet needs.
  init(entries: [String: String], file: String) throws {
    func invalid(_ message: String) -> ModelError {
      ModelError(
        code: .invalidMetadata, file: file,
        message: message + "; this file was not written by dropnet or was edited by hand")
    }
    guard let versionText = entries[Key.formatVersion], let version = Int(versionText) else {
      throw invalid("metadata key \(Key.formatVersion) is missing or not an integer")
    }
    guard version <= Self.currentFormatVersion else {
      throw ModelError(
        code: .unsupportedVersion, file: file,
        message: "checkpoint format version \(version) is newer than the "
          + "\(Self.currentFormatVersion) this dropnet reads; upgrade dropnet")
    }
    guard let architecture = entries[Key.architecture], !architecture.isEmpty else {
      throw invalid("metadata key \(Key.architecture) is missing")
    }
    guard let preprocessing = entries[Key.preprocessing], !preprocessing.isEmpty else {
      throw invalid("metadata key \(Key.preprocessing) is missing")
    }
    guard let labelsText = entries[Key.classLabels],
      let labels = try? JSONDecoder().decode([String].self, from: Data(labelsText.utf8))
    else {
      throw invalid("metadata key \(Key.classLabels) is missing or not a JSON array of strings")
    }
    self.formatVersion = version
    self.architecture = architecture
    self.preprocessing = preprocessing
    self.classLabels = labels
    self.sourceFileName = entries[Key.sourceFile]
    self.sourceSHA256 = entries[Key.sourceSHA256]
    self.extra = entries.filter { !Key.all.contains($0.key) }
  }
}
