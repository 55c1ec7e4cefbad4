import DropnetModel
import Foundation

/// How `ModelExporter` writes a model, in every format.
public struct ExportOptions: Sendable {
  /// Store weights as IEEE half floats: about half the file, predictions change slightly
  /// (CoreML: specification version 2, iOS 11.2; ONNX and TFLite: FLOAT16 weights widened to
  /// float32 inside the model).
  public var float16Weights: Bool
  /// CoreML only: mark the last inner product updatable (categorical cross-entropy, SGD) so an
  /// app can personalise the model with `MLUpdateTask`; specification version 4 (iOS 13).
  public var updatable: Bool
  /// The classifier head as trained; nil takes the checkpoint's own (its trained head, else
  /// its ImageNet logits convolution).
  public var head: ClassifierHead?
  /// Metadata: who made the model.
  public var author: String
  /// Metadata: the licence of the model.
  public var license: String
  /// Metadata: a one-line description; nil writes one naming the classes.
  public var shortDescription: String?
  /// The dropnet version, stored in the metadata (`dropnet_version`).
  public var dropnetVersion: String
  /// Extra metadata entries (they win over the checkpoint's own entries).
  public var userDefined: [String: String]
  /// The export time written into the metadata and the summary.
  public var exportDate: Date

  /// Creates options; the defaults write float32 weights, not updatable.
  public init(
    float16Weights: Bool = false, updatable: Bool = false, head: ClassifierHead? = nil,
    author: String = "dropnet",
    license: String =
      "MobileNet v1 ImageNet weights: Apache-2.0 (TensorFlow models); fine-tuning: the owner "
      + "of the training videos",
    shortDescription: String? = nil, dropnetVersion: String = "unknown",
    userDefined: [String: String] = [:], exportDate: Date = Date()
  ) {
    self.float16Weights = float16Weights
    self.updatable = updatable
    self.head = head
    self.author = author
    self.license = license
    self.shortDescription = shortDescription
    self.dropnetVersion = dropnetVersion
    self.userDefined = userDefined
    self.exportDate = exportDate
  }
}
