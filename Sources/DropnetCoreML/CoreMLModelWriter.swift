import DropnetModel
import Foundation
import SwiftProtobuf

/// Writes an `InferenceNetwork` as a CoreML `NeuralNetworkClassifier` (`.mlmodel`) that an iOS
/// app can use as it is: image input `image` (224x224 RGB, scaled to [-1, 1] by the model's
/// own preprocessing), outputs `classLabel` and `classLabelProbs`; the metadata's version is
/// the model's `versionString`, its entries the `userDefined` metadata.
public enum CoreMLModelWriter {
  /// The `userDefined` key that tells Xcode which preview its model page shows.
  public static let previewTypeKey = "com.apple.coreml.model.preview.type"

  /// The serialized model (deterministic field order: the same network and metadata give the
  /// same bytes). `updatable` marks the last inner product trainable on device.
  public static func bytes(network: InferenceNetwork, metadata: ExportMetadata, updatable: Bool)
    throws -> Data
  {
    var encoding = BinaryEncodingOptions()
    encoding.useDeterministicOrdering = true
    return try model(network: network, metadata: metadata, updatable: updatable)
      .serializedBytes(options: encoding)
  }

  /// The export version stored in a model's `versionString`, or nil when `data` is not a
  /// CoreML model with a numeric version.
  public static func version(ofModel data: Data) -> Int? {
    guard let model = try? CoreML_Specification_Model(serializedBytes: data),
      let version = Int(model.description_p.metadata.versionString)
    else { return nil }
    return version
  }

  /// The CoreML `Model` of `network`.
  static func model(network: InferenceNetwork, metadata: ExportMetadata, updatable: Bool) throws
    -> CoreML_Specification_Model
  {
    var classifier = CoreML_Specification_NeuralNetworkClassifier()
    classifier.layers = try MobileNetV1CoreMLNetwork.layers(
      network: network, float16: metadata.float16Weights, updatable: updatable)
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
    labelVector.vector = network.labels
    classifier.stringClassLabels = labelVector

    var model = CoreML_Specification_Model()
    model.specificationVersion = Int32(
      CoreMLSpecificationVersion.minimum(float16: metadata.float16Weights, updatable: updatable))
    model.description_p = description(network: network, metadata: metadata)
    if updatable {
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

  private static func description(network: InferenceNetwork, metadata: ExportMetadata)
    -> CoreML_Specification_ModelDescription
  {
    let size = Int64(network.inputSize)
    var image = CoreML_Specification_ImageFeatureType()
    image.width = size
    image.height = size
    image.colorSpace = .rgb
    var description = CoreML_Specification_ModelDescription()
    description.input = [
      feature(
        MobileNetV1CoreMLNetwork.inputName,
        "A \(size)x\(size) RGB image to classify: "
          + (network.framing == .centerCrop
            ? "the centred square of the photo" : "the whole photo squashed")
          + " (Vision: \(network.framing.visionOption))"
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

    var modelMetadata = CoreML_Specification_Metadata()
    modelMetadata.shortDescription = metadata.shortDescription
    modelMetadata.versionString = String(metadata.version)
    modelMetadata.author = metadata.author
    modelMetadata.license = metadata.license
    modelMetadata.userDefined = metadata.userDefined
    // Xcode's model page shows its image-classifier preview (drop a photo, see the classes).
    modelMetadata.userDefined[previewTypeKey] = "imageClassifier"
    description.metadata = modelMetadata
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
}
