/// What every exported format records beside the network, the same in each: the model's
/// name and export version, who made it, its licence, a one-line description, the weight
/// precision and the provenance and training facts (`userDefined`).
public struct ExportMetadata: Sendable, Equatable {
  /// The model's name (the file name without extension), e.g. "Gestures".
  public var name: String
  /// The export version: 1, 2, ... for exports of this name into one folder.
  public var version: Int
  /// Who made the model.
  public var author: String
  /// The licence of the model.
  public var license: String
  /// One line saying what the model does.
  public var shortDescription: String
  /// Whether weights are stored as IEEE half floats (computation stays float32).
  public var float16Weights: Bool
  /// Provenance and training facts as text entries (CoreML `userDefined`, ONNX
  /// `metadata_props`, a JSON entry in the TFLite model).
  public var userDefined: [String: String]

  /// Creates metadata.
  public init(
    name: String, version: Int, author: String, license: String, shortDescription: String,
    float16Weights: Bool, userDefined: [String: String]
  ) {
    self.name = name
    self.version = version
    self.author = author
    self.license = license
    self.shortDescription = shortDescription
    self.float16Weights = float16Weights
    self.userDefined = userDefined
  }

  /// "float16" or "float32".
  public var weightPrecision: String { float16Weights ? "float16" : "float32" }
}
