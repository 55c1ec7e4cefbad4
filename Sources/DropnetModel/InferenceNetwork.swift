import DropnetArchitecture

/// A checkpoint as the network that runs at inference, in the form every exported format
/// writes: the preprocessing, the 27 convolutions with batch norm folded in (each followed by
/// ReLU6, TF 'SAME' padding), global average pooling, the folded classifier (inner products
/// and ReLUs, no batch norm, no dropout) and softmax over `labels`.
public struct InferenceNetwork: Sendable {
  /// Input side in pixels: RGB, square.
  public var inputSize: Int
  /// Each input byte v becomes `v * inputScale + inputBias` ([-1, 1], what the weights expect).
  public static let inputScale: Float = 1 / 127.5
  public static let inputBias: Float = -1
  /// The same map as a mean and standard deviation, the form TFLite metadata states:
  /// (v - inputMean) / inputStandardDeviation = v * inputScale + inputBias.
  public static let inputMean: Float = 127.5
  public static let inputStandardDeviation: Float = 127.5
  /// The convolutions in order, batch norm folded (`MobileNetV1Architecture.layers`).
  public var convolutions: [FoldedConvolution]
  /// The classifier after pooling, folded: only `.innerProduct` and `.relu` layers, the last an
  /// inner product giving the logits.
  public var classifier: [ClassifierHead.Layer]
  /// Class labels in output order.
  public var labels: [String]
  /// What part of a photo the app must give the model (how it was trained).
  public var framing: InputFraming

  /// The network of `checkpoint` (its trained head, else its ImageNet logits, or `head` when
  /// given). Throws `ModelError` with `.unsupportedCheckpoint` (another architecture or
  /// preprocessing, a missing or misshapen base tensor), `.invalidHead` or `.invalidMetadata`
  /// (no label per output).
  public init(checkpoint: Checkpoint, head: ClassifierHead? = nil) throws {
    let metadata = checkpoint.metadata
    guard metadata.architecture == MobileNetV1Architecture.identifier else {
      throw ModelError(
        code: .unsupportedCheckpoint,
        message: "architecture \(metadata.architecture) is not "
          + "\(MobileNetV1Architecture.identifier), the only one dropnet runs and exports")
    }
    guard metadata.preprocessing == ImagePreprocessor.identifier else {
      throw ModelError(
        code: .unsupportedCheckpoint,
        message: "preprocessing \(metadata.preprocessing) is not \(ImagePreprocessor.identifier)"
          + ", the one the exported model applies")
    }
    let problems = MobileNetV1Architecture.problems(
      in: checkpoint.baseTensors, includingLogits: false
    ).filter { $0.kind != .unexpected }
    guard problems.isEmpty else {
      throw ModelError(
        code: .unsupportedCheckpoint,
        message: "not a MobileNet v1 1.0/224 checkpoint: "
          + problems.prefix(5).map(\.description).joined(separator: "; ")
          + (problems.count > 5 ? " (and \(problems.count - 5) more)" : "")
          + "; use a checkpoint written by dropnet (weights import or train)")
    }
    guard !metadata.classLabels.isEmpty else {
      throw ModelError(
        code: .invalidMetadata,
        message: "the checkpoint has no class labels; use a checkpoint written by `dropnet "
          + "train` (it stores the labels in training order)")
    }
    let trained = try head ?? checkpoint.classifierHead()
    guard trained.classCount == metadata.classLabels.count else {
      throw ModelError(
        code: .invalidMetadata,
        message: "the checkpoint has \(metadata.classLabels.count) class labels but its head "
          + "has \(trained.classCount ?? 0) outputs; the labels must name every output, in order"
      )
    }
    inputSize = MobileNetV1Architecture.inputSize
    convolutions = MobileNetV1Architecture.layers.map {
      FoldedConvolution(layer: $0, tensors: checkpoint.tensors)
    }
    classifier = try trained.folded(featureCount: MobileNetV1Architecture.featureCount)
    labels = metadata.classLabels
    framing = InputFraming(checkpoint: checkpoint)
  }

  /// Side of the last feature map, which pooling averages (7 at 224).
  public var finalMapSize: Int { MobileNetV1Architecture.finalMapSize(inputSize: inputSize) }

  /// 'SAME' padding (before, after) of each convolution along either axis, in order.
  public var paddings: [(before: Int, after: Int)] {
    var size = inputSize
    return convolutions.map { convolution in
      let layer = convolution.layer
      defer { size = layer.outputSize(inputSize: size) }
      return MobileNetV1Architecture.samePadding(
        inputSize: size, kernelSize: layer.kernelSize, stride: layer.stride)
    }
  }
}
