import DropnetModel
import Foundation

/// Writes an `InferenceNetwork` as a TFLite model (FlatBuffer schema version 3, file
/// identifier "TFL3") of builtin operators that LiteRT (TensorFlow Lite) runs as it is, with
/// the metadata Android's image classifier APIs read (`TFLiteMetadata`) and the label file in
/// a ZIP appended to the model.
///
/// Input `image`: float32 NHWC [1, 224, 224, 3], RGB already normalised to [-1, 1] (the
/// metadata's NormalizationOptions, mean 127.5 and std 127.5, tell an app how). Output
/// `probabilities`: float32 [1, classes].
///
/// Operators, per convolution: `CONV_2D` (filter OHWI) or `DEPTHWISE_CONV_2D` (filter
/// [1, K, K, C]) with the folded bias, padding SAME (TFLite's is TF's: the odd pixel after) and
/// ReLU6 fused; then `AVERAGE_POOL_2D` over the last map, `RESHAPE` to [1, 1024], the
/// classifier's `FULLY_CONNECTED` layers (weights [out, in], a following ReLU fused) and
/// `SOFTMAX`. Float16 weights are FLOAT16 tensors each widened by a `DEQUANTIZE` operator, so
/// the arithmetic stays float32.
///
/// The model's `metadata` entries: `TFLITE_METADATA` (the metadata buffer) and
/// `dropnet_metadata` (the `userDefined` entries as a JSON object).
///
/// Tables, with their field slots in schema order: Model (version 0, operator_codes 1,
/// subgraphs 2, description 3, buffers 4, metadata 6); OperatorCode
/// (deprecated_builtin_code 0, version 2, builtin_code 3); SubGraph (tensors 0, inputs 1,
/// outputs 2, operators 3, name 4); Tensor (shape 0, type 1, buffer 2, name 3); Buffer
/// (data 0); Operator (opcode_index 0, inputs 1, outputs 2, builtin_options type 3 and
/// value 4); Metadata (name 0, buffer 1).
public enum TFLiteModelWriter {
  /// The input and output tensor names.
  public static let inputName = "image"
  public static let probabilitiesName = "probabilities"
  /// The `Model.metadata` entry holding the TFLite metadata buffer (the name readers look for).
  public static let metadataName = "TFLITE_METADATA"
  /// The `Model.metadata` entry holding dropnet's `userDefined` entries as JSON.
  public static let dropnetMetadataName = "dropnet_metadata"
  /// The label file's name inside the appended ZIP.
  public static var labelFileName: String { TFLiteMetadata.labelFileName }
  static let schemaVersion: UInt32 = 3
  static let identifier = "TFL3"

  /// The model: the FlatBuffer, then the ZIP of the label file.
  public static func bytes(network: InferenceNetwork, metadata: ExportMetadata) throws -> Data {
    var graph = TFLiteGraph(float16: metadata.float16Weights)
    try graph.add(network)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let entries = [
      (metadataName, TFLiteMetadata.buffer(network: network, metadata: metadata)),
      (dropnetMetadataName, try encoder.encode(metadata.userDefined)),
    ]
    var model = graph.flatBuffer(
      description: "dropnet: " + metadata.shortDescription, metadata: entries)
    model.append(
      StoredZip.archive(
        [(TFLiteMetadata.labelFileName, TFLiteMetadata.labelFile(network.labels))],
        precedingBytes: model.count))
    return model
  }

  /// The export version in a model's metadata (`ModelMetadata.version`), or nil when `data`
  /// is not a TFLite model with numeric metadata version.
  public static func version(ofModel data: Data) -> Int? {
    let bytes = [UInt8](data)
    guard let model = FlatBufferTable(root: bytes, identifier: identifier),
      let entry = model.tables(6).first(where: { $0.string(0) == metadataName }),
      let buffer = model.tables(4).dropFirst(Int(entry.uint32(1))).first?.bytes(0)
    else { return nil }
    return TFLiteMetadata.version(ofMetadata: buffer)
  }
}
