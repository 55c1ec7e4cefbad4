import DropnetModel
import Foundation

/// The TFLite model metadata (a `ModelMetadata` FlatBuffer, file identifier "M001", schema
/// 1.0) that Android's image classifier APIs (MediaPipe Tasks `ImageClassifier`, the TFLite
/// Task Library) read to use a model without being told about it:
///
/// - input `image`: `ImageProperties` (RGB, 224x224) and `NormalizationOptions` mean 127.5,
///   std 127.5, so the app's pixel bytes v become (v - 127.5) / 127.5 = v / 127.5 - 1;
/// - output `probabilities`: the label file `labels.txt` (one label per line, in output order)
///   associated as `TENSOR_AXIS_LABELS`; the file itself is packed into a ZIP appended to the
///   model (`StoredZip`).
///
/// Tables, with their field slots in schema order: ModelMetadata (name 0, description 1,
/// version 2, subgraph_metadata 3, author 4, license 5, associated_files 6,
/// min_parser_version 7); SubGraphMetadata (name 0, description 1, input_tensor_metadata 2,
/// output_tensor_metadata 3); TensorMetadata (name 0, description 1, dimension_names 2,
/// content 3, process_units 4, stats 5, associated_files 6); Content (content_properties
/// type 0 and value 1, range 2); ImageProperties (color_space 0, default_size 1); ImageSize
/// (width 0, height 1); ProcessUnit (options type 0 and value 1); NormalizationOptions (mean 0,
/// std 1); Stats (max 0, min 1); AssociatedFile (name 0, description 1, type 2, locale 3).
enum TFLiteMetadata {
  /// The label file's name inside the appended ZIP and in the metadata.
  static let labelFileName = "labels.txt"
  /// The oldest metadata parser that reads every field written (all are of schema 1.0.0).
  static let minimumParserVersion = "1.0.0"
  static let identifier = "M001"

  // Union members and enumerations, by their schema values.
  private static let featureProperties: UInt8 = 1
  private static let imageProperties: UInt8 = 2
  private static let normalizationOptions: UInt8 = 1
  private static let rgb: UInt8 = 1
  private static let tensorAxisLabels: UInt8 = 2

  /// The label file: each label on its own line, in output order.
  static func labelFile(_ labels: [String]) -> Data {
    Data(labels.map { $0 + "\n" }.joined().utf8)
  }

  /// The metadata FlatBuffer for `network`.
  static func buffer(network: InferenceNetwork, metadata: ExportMetadata) -> Data {
    var builder = FlatBufferBuilder()

    // Input: an RGB image, normalised by (v - 127.5) / 127.5.
    builder.startTable()
    builder.add(0, UInt32(network.inputSize))
    builder.add(1, UInt32(network.inputSize))
    let imageSize = builder.endTable()
    builder.startTable()
    builder.add(0, rgb)
    builder.add(1, imageSize)
    let image = builder.endTable()
    builder.startTable()
    builder.add(0, imageProperties)
    builder.add(1, image)
    let inputContent = builder.endTable()
    let meanVector = builder.vector([InferenceNetwork.inputMean])
    let stdVector = builder.vector([InferenceNetwork.inputStandardDeviation])
    builder.startTable()
    builder.add(0, meanVector)
    builder.add(1, stdVector)
    let normalization = builder.endTable()
    builder.startTable()
    builder.add(0, normalizationOptions)
    builder.add(1, normalization)
    let processUnit = builder.endTable()
    let inputStats = stats(&builder, minimum: -1, maximum: 1)
    let inputName = builder.string(TFLiteModelWriter.inputName)
    let inputDescription = builder.string(
      "A \(network.inputSize)x\(network.inputSize) RGB image; pixel bytes v are normalised to "
        + "(v - 127.5) / 127.5, in [-1, 1]")
    let processUnits = builder.vector([processUnit])
    builder.startTable()
    builder.add(0, inputName)
    builder.add(1, inputDescription)
    builder.add(3, inputContent)
    builder.add(4, processUnits)
    builder.add(5, inputStats)
    let input = builder.endTable()

    // Output: one probability per label of the associated label file.
    builder.startTable()
    let feature = builder.endTable()
    builder.startTable()
    builder.add(0, featureProperties)
    builder.add(1, feature)
    let outputContent = builder.endTable()
    let labelName = builder.string(labelFileName)
    let labelDescription = builder.string("The class labels, one per line, in output order")
    builder.startTable()
    builder.add(0, labelName)
    builder.add(1, labelDescription)
    builder.add(2, tensorAxisLabels)
    let labelFile = builder.endTable()
    let outputStats = stats(&builder, minimum: 0, maximum: 1)
    let outputName = builder.string(TFLiteModelWriter.probabilitiesName)
    let outputDescription = builder.string(
      "Probability of each of the \(network.labels.count) classes (softmax)")
    let associatedFiles = builder.vector([labelFile])
    builder.startTable()
    builder.add(0, outputName)
    builder.add(1, outputDescription)
    builder.add(3, outputContent)
    builder.add(5, outputStats)
    builder.add(6, associatedFiles)
    let output = builder.endTable()

    let subgraphName = builder.string("image_classifier")
    let subgraphDescription = builder.string(
      "Classifies a \(network.inputSize)x\(network.inputSize) RGB image into one of "
        + "\(network.labels.count) classes")
    let inputs = builder.vector([input])
    let outputs = builder.vector([output])
    builder.startTable()
    builder.add(0, subgraphName)
    builder.add(1, subgraphDescription)
    builder.add(2, inputs)
    builder.add(3, outputs)
    let subgraph = builder.endTable()

    let name = builder.string(metadata.name)
    let description = builder.string(metadata.shortDescription)
    let version = builder.string(String(metadata.version))
    let subgraphs = builder.vector([subgraph])
    let author = builder.string(metadata.author)
    let license = builder.string(metadata.license)
    let parserVersion = builder.string(minimumParserVersion)
    builder.startTable()
    builder.add(0, name)
    builder.add(1, description)
    builder.add(2, version)
    builder.add(3, subgraphs)
    builder.add(4, author)
    builder.add(5, license)
    builder.add(7, parserVersion)
    let root = builder.endTable()
    return builder.finish(root: root, identifier: identifier)
  }

  /// The model version (`ModelMetadata.version`) of a metadata buffer, when numeric.
  static func version(ofMetadata bytes: [UInt8]) -> Int? {
    FlatBufferTable(root: bytes, identifier: identifier)?.string(2).flatMap { Int($0) }
  }

  private static func stats(_ builder: inout FlatBufferBuilder, minimum: Float, maximum: Float)
    -> FlatBufferBuilder.Offset
  {
    let maximumVector = builder.vector([maximum])
    let minimumVector = builder.vector([minimum])
    builder.startTable()
    builder.add(0, maximumVector)
    builder.add(1, minimumVector)
    return builder.endTable()
  }
}
