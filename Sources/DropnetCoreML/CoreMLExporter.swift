import Crypto
import DropnetArchitecture
import DropnetModel
import DropnetStorage
import Foundation
import SwiftProtobuf

/// Writes a MobileNet v1 checkpoint as a CoreML `NeuralNetworkClassifier` (`.mlmodel`) that an
/// iOS app can use as it is: image input `image` (224x224 RGB, scaled to [-1, 1] by the
/// model's own preprocessing), outputs `classLabel` and `classLabelProbs`.
public enum CoreMLExporter {
  /// Reads the checkpoint at `checkpointURL` and exports it (see `export(checkpoint:...)`).
  public static func export(
    checkpointAt checkpointURL: URL, name: String, to folder: URL,
    options: CoreMLExportOptions = CoreMLExportOptions()
  ) throws -> ExportResult {
    let checkpoint: Checkpoint
    do {
      checkpoint = try Checkpoint.read(from: checkpointURL)
    } catch let error as ModelError {
      throw CoreMLExportError(
        code: .checkpointUnreadable, file: checkpointURL.path,
        message: "cannot export: \(error.message); pass a checkpoint written by "
          + "`dropnet weights import` or `dropnet train`")
    }
    return try export(checkpoint: checkpoint, name: name, to: folder, options: options)
  }

  /// Writes `<folder>/<name>.mlmodel` and `<folder>/<name>.json` (creating `folder` if
  /// needed). Each file is written atomically (temporary file, fsync, rename), so a reader
  /// sees the previous file or the new one, never a part.
  ///
  /// The export version (the model's `versionString`) is one more than the larger of the
  /// version in the summary already in the folder and the one in the model already there:
  /// the model is written first, so after a failure between the two writes the model alone
  /// holds the newest number, and the next export still counts past it.
  ///
  /// The model's `userDefined` metadata holds the checkpoint's own entries (for a checkpoint
  /// from `dropnet train`, the `TrainingFacts` keys: `training_date`, `classes`,
  /// `training_frames_per_class`, `validation_frames_per_class`, `validation_accuracy`,
  /// `validation_loss`, `best_epoch`, `fine_tune_mode`, `split`, `training_dropnet_version`,
  /// `dataset_sha256`), then `architecture`, `class_count`, `base_weights_sha256`,
  /// `base_weights_file`, `dropnet_version` (the exporting dropnet), `exported_at`,
  /// `weight_precision`, then `options.userDefined`.
  public static func export(
    checkpoint: Checkpoint, name: String, to folder: URL,
    options: CoreMLExportOptions = CoreMLExportOptions()
  ) throws -> ExportResult {
    try checkName(name)
    let modelURL = folder.appendingPathComponent(name + ".mlmodel")
    let summaryURL = folder.appendingPathComponent(name + ".json")
    // Build everything before touching the folder: a bad checkpoint leaves nothing behind.
    let previousVersion = max(
      previousExportVersion(summaryURL), previousModelVersion(modelURL))
    let exportVersion = previousVersion + 1
    let model = try makeModel(
      checkpoint: checkpoint, options: options, exportVersion: exportVersion)
    var encoding = BinaryEncodingOptions()
    encoding.useDeterministicOrdering = true
    let bytes: Data = try model.serializedBytes(options: encoding)

    let summary = ExportSummary(
      modelFile: modelURL.lastPathComponent, exportVersion: exportVersion,
      modelSHA256: SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined(),
      modelByteCount: bytes.count, specificationVersion: Int(model.specificationVersion),
      minimumIOS: CoreMLSpecificationVersion.minimumIOS(Int(model.specificationVersion)),
      weightPrecision: options.float16Weights ? "float16" : "float32",
      updatable: options.updatable, classLabels: checkpoint.metadata.classLabels,
      exportedAt: isoDate(options.exportDate),
      baseWeightsSHA256: checkpoint.metadata.sourceSHA256,
      checkpointMetadata: checkpoint.metadata.extra)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let summaryBytes = try encoder.encode(summary)

    try prepareFolder(folder)
    try write(bytes, to: modelURL)
    try write(summaryBytes, to: summaryURL)
    return ExportResult(modelURL: modelURL, summaryURL: summaryURL, summary: summary)
  }

  /// The CoreML `Model` for `checkpoint`, checked and built before anything is written.
  static func makeModel(
    checkpoint: Checkpoint, options: CoreMLExportOptions, exportVersion: Int
  ) throws -> CoreML_Specification_Model {
    let network: InferenceNetwork
    do {
      network = try InferenceNetwork(checkpoint: checkpoint, head: options.head)
    } catch let error as ModelError {
      let code: CoreMLExportError.Code =
        switch error.code {
        case .invalidMetadata: .missingLabels
        case .invalidHead: .invalidHead
        default: .unsupportedCheckpoint
        }
      throw CoreMLExportError(code: code, message: error.message)
    }
    let labels = network.labels

    var classifier = CoreML_Specification_NeuralNetworkClassifier()
    classifier.layers = try MobileNetV1CoreMLNetwork.layers(
      network: network, float16: options.float16Weights, updatable: options.updatable)
    var scaler = CoreML_Specification_NeuralNetworkImageScaler()
    // (x - 127.5) / 127.5 = x / 127.5 - 1, per channel, the preprocessing the weights expect.
    scaler.channelScale = InferenceNetwork.inputScale
    scaler.redBias = InferenceNetwork.inputBias
    scaler.greenBias = InferenceNetwork.inputBias
    scaler.blueBias = InferenceNetwork.inputBias
    var preprocessing = CoreML_Specification_NeuralNetworkPreprocessing()
    preprocessing.featureName = MobileNetV1CoreMLNetwork.inputName
    preprocessing.scaler = scaler
    classifier.preprocessing = [preprocessing]
    var labelVector = CoreML_Specification_StringVector()
    labelVector.vector = labels
    classifier.stringClassLabels = labelVector

    var model = CoreML_Specification_Model()
    model.specificationVersion = Int32(CoreMLSpecificationVersion.minimum(for: options))
    model.description_p = description(
      checkpoint: checkpoint, framing: network.framing, options: options,
      exportVersion: exportVersion)
    if options.updatable {
      model.isUpdatable = true
      classifier.updateParams = updateParameters()
      model.description_p.trainingInput = [
        model.description_p.input[0],
        feature(MobileNetV1CoreMLNetwork.labelName, "The true class of the training image") {
          $0.stringType = CoreML_Specification_StringFeatureType()
        },
      ]
    }
    model.neuralNetworkClassifier = classifier
    return model
  }

  private static func description(
    checkpoint: Checkpoint, framing: InputFraming, options: CoreMLExportOptions,
    exportVersion: Int
  ) -> CoreML_Specification_ModelDescription {
    let size = Int64(MobileNetV1Architecture.inputSize)
    var image = CoreML_Specification_ImageFeatureType()
    image.width = size
    image.height = size
    image.colorSpace = .rgb
    var description = CoreML_Specification_ModelDescription()
    description.input = [
      feature(
        MobileNetV1CoreMLNetwork.inputName,
        "A \(size)x\(size) RGB image to classify: \(framing == .centerCrop ? "the centred square of the photo" : "the whole photo squashed") (Vision: \(framing.visionOption))"
      ) {
        $0.imageType = image
      }
    ]
    var dictionary = CoreML_Specification_DictionaryFeatureType()
    dictionary.stringKeyType = CoreML_Specification_StringFeatureType()
    description.output = [
      feature(MobileNetV1CoreMLNetwork.probabilitiesName, "Probability of each class") {
        $0.dictionaryType = dictionary
      },
      feature(MobileNetV1CoreMLNetwork.labelName, "The most likely class") {
        $0.stringType = CoreML_Specification_StringFeatureType()
      },
    ]
    description.predictedFeatureName = MobileNetV1CoreMLNetwork.labelName
    description.predictedProbabilitiesName = MobileNetV1CoreMLNetwork.probabilitiesName

    let labels = checkpoint.metadata.classLabels
    var metadata = CoreML_Specification_Metadata()
    let shown = labels.prefix(8).joined(separator: ", ") + (labels.count > 8 ? ", ..." : "")
    metadata.shortDescription =
      options.shortDescription
      ?? "MobileNet v1 image classifier, \(labels.count) classes (\(shown)), made by dropnet"
    metadata.versionString = String(exportVersion)
    metadata.author = options.author
    metadata.license = options.license
    var userDefined = checkpoint.metadata.extra
    userDefined["architecture"] = checkpoint.metadata.architecture
    userDefined["class_count"] = String(labels.count)
    userDefined["base_weights_sha256"] = checkpoint.metadata.sourceSHA256
    userDefined["base_weights_file"] = checkpoint.metadata.sourceFileName
    userDefined["dropnet_version"] = options.dropnetVersion
    userDefined["exported_at"] = isoDate(options.exportDate)
    userDefined["weight_precision"] = options.float16Weights ? "float16" : "float32"
    userDefined[InputFraming.metadataKey] = framing.rawValue
    userDefined.merge(options.userDefined) { _, new in new }
    metadata.userDefined = userDefined
    description.metadata = metadata
    return description
  }

  /// Categorical cross-entropy on the softmax output against the true label, plain SGD.
  private static func updateParameters() -> CoreML_Specification_NetworkUpdateParameters {
    var loss = CoreML_Specification_LossLayer()
    loss.name = "lossLayer"
    var crossEntropy = CoreML_Specification_CategoricalCrossEntropyLossLayer()
    crossEntropy.input = MobileNetV1CoreMLNetwork.probabilitiesName
    crossEntropy.target = MobileNetV1CoreMLNetwork.labelName
    loss.categoricalCrossEntropyLossLayer = crossEntropy

    func double(_ value: Double, _ range: ClosedRange<Double>)
      -> CoreML_Specification_DoubleParameter
    {
      var parameter = CoreML_Specification_DoubleParameter()
      parameter.defaultValue = value
      var allowed = CoreML_Specification_DoubleRange()
      allowed.minValue = range.lowerBound
      allowed.maxValue = range.upperBound
      parameter.range = allowed
      return parameter
    }
    func integer(_ value: Int64, _ range: ClosedRange<Int64>) -> CoreML_Specification_Int64Parameter
    {
      var parameter = CoreML_Specification_Int64Parameter()
      parameter.defaultValue = value
      var allowed = CoreML_Specification_Int64Range()
      allowed.minValue = range.lowerBound
      allowed.maxValue = range.upperBound
      parameter.range = allowed
      return parameter
    }
    var sgd = CoreML_Specification_SGDOptimizer()
    // Defaults for personalising a trained head on a few dozen photos: a small step, small
    // batches, a handful of epochs; the app may change them within the ranges.
    sgd.learningRate = double(0.001, 0...1)
    sgd.miniBatchSize = integer(8, 1...1024)
    sgd.momentum = double(0, 0...1)
    var optimizer = CoreML_Specification_Optimizer()
    optimizer.sgdOptimizer = sgd
    var parameters = CoreML_Specification_NetworkUpdateParameters()
    parameters.lossLayers = [loss]
    parameters.optimizer = optimizer
    parameters.epochs = integer(10, 1...100)
    var shuffle = CoreML_Specification_BoolParameter()
    shuffle.defaultValue = true
    parameters.shuffle = shuffle
    return parameters
  }

  private static func feature(
    _ name: String, _ text: String, _ type: (inout CoreML_Specification_FeatureType) -> Void
  ) -> CoreML_Specification_FeatureDescription {
    var feature = CoreML_Specification_FeatureDescription()
    feature.name = name
    feature.shortDescription = text
    type(&feature.type)
    return feature
  }

  private static func checkName(_ name: String) throws {
    let bad =
      name.isEmpty || name.hasPrefix(".") || name.contains("/") || name.contains("\\")
      || name.utf8.count > 200
      || name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    guard !bad else {
      throw CoreMLExportError(
        code: .invalidName, file: name,
        message: "the model name must be a plain file name (no '/', no leading '.', no control "
          + "characters, at most 200 bytes), e.g. Gestures")
    }
  }

  /// The exportVersion of the summary already at `url`, or 0 when there is none (or it is not
  /// a summary this build wrote).
  private static func previousExportVersion(_ url: URL) -> Int {
    guard let data = try? Data(contentsOf: url),
      let summary = try? JSONDecoder().decode(ExportSummary.self, from: data)
    else { return 0 }
    return max(0, summary.exportVersion)
  }

  /// The versionString of the model already at `url`, or 0 when there is none (or it is not
  /// a model with a numeric version).
  private static func previousModelVersion(_ url: URL) -> Int {
    guard let data = try? Data(contentsOf: url),
      let model = try? CoreML_Specification_Model(serializedBytes: data),
      let version = Int(model.description_p.metadata.versionString)
    else { return 0 }
    return max(0, version)
  }

  private static func prepareFolder(_ folder: URL) throws {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) {
      guard isFolder.boolValue else {
        throw CoreMLExportError(
          code: .outputNotWritable, file: folder.path,
          message: "the output path is a file, not a folder; pass a folder (it is created if "
            + "missing)")
      }
      return
    }
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    } catch {
      throw CoreMLExportError(
        code: .outputNotWritable, file: folder.path,
        message: "cannot create the output folder (\(error.localizedDescription)); check the "
          + "path and the permissions of its parent")
    }
  }

  private static func write(_ bytes: Data, to url: URL) throws {
    do {
      try AtomicFile.write(bytes, to: url)
    } catch {
      throw CoreMLExportError(
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
