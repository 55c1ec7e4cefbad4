import DropnetArchitecture

/// The contract of a dropnet checkpoint: the MobileNet v1 base (`MobileNetV1Architecture`'s
/// tensors, the ImageNet logits included as imported) and, for a checkpoint from `dropnet
/// train`, the classifier head trained on its pooled features, under `HeadTensorName.prefix`
/// in Keras layouts:
///
///     features [1024] -> Dense (fc1) -> ReLU -> BatchNorm (bn) -> Dropout -> Dense (fc2)
///                     -> softmax over `metadata.classLabels`, in output order
extension Checkpoint {
  /// The head's tensor names (TF/Keras layouts, float32).
  public enum HeadTensorName {
    /// [featureCount, hiddenCount]
    public static let fc1Weights = "Head/fc1/weights"
    /// [hiddenCount]
    public static let fc1Biases = "Head/fc1/biases"
    /// [hiddenCount] each
    public static let batchNormGamma = "Head/bn/gamma"
    public static let batchNormBeta = "Head/bn/beta"
    public static let batchNormMovingMean = "Head/bn/moving_mean"
    public static let batchNormMovingVariance = "Head/bn/moving_variance"
    /// [hiddenCount, classCount]
    public static let fc2Weights = "Head/fc2/weights"
    /// [classCount]
    public static let fc2Biases = "Head/fc2/biases"
    /// What every head tensor's name starts with.
    public static let prefix = "Head/"

    /// Every head tensor's name and shape for a head of these widths.
    public static func shapes(featureCount: Int, hiddenCount: Int, classCount: Int) -> [(
      name: String, shape: [Int]
    )] {
      [
        (fc1Weights, [featureCount, hiddenCount]), (fc1Biases, [hiddenCount]),
        (batchNormGamma, [hiddenCount]), (batchNormBeta, [hiddenCount]),
        (batchNormMovingMean, [hiddenCount]), (batchNormMovingVariance, [hiddenCount]),
        (fc2Weights, [hiddenCount, classCount]), (fc2Biases, [classCount]),
      ]
    }
  }

  /// Whether the checkpoint carries a trained head.
  public var hasTrainedHead: Bool { Self.hasTrainedHead(tensors) }

  /// Whether `tensors` include a trained head.
  public static func hasTrainedHead(_ tensors: [String: HostTensor]) -> Bool {
    tensors.keys.contains { $0.hasPrefix(HeadTensorName.prefix) }
  }

  /// The base network's tensors: everything but a trained head.
  public var baseTensors: [String: HostTensor] { Self.baseTensors(of: tensors) }

  /// `tensors` without a trained head's.
  public static func baseTensors(of tensors: [String: HostTensor]) -> [String: HostTensor] {
    tensors.filter { !$0.key.hasPrefix(HeadTensorName.prefix) }
  }

  /// The widths of the trained head (features, hidden units, classes), after checking that
  /// every head tensor is there with matching shapes and the labels name its outputs.
  public func trainedHeadWidths() throws -> (featureCount: Int, hiddenCount: Int, classCount: Int) {
    guard let fc1 = tensors[HeadTensorName.fc1Weights], fc1.shape.count == 2,
      let fc2 = tensors[HeadTensorName.fc2Weights], fc2.shape.count == 2
    else {
      throw ModelError(
        code: .invalidHead,
        message: "the head needs \(HeadTensorName.fc1Weights) and \(HeadTensorName.fc2Weights) "
          + "of rank 2; use a checkpoint written by `dropnet train`")
    }
    let widths = (featureCount: fc1.shape[0], hiddenCount: fc1.shape[1], classCount: fc2.shape[1])
    for (name, shape) in HeadTensorName.shapes(
      featureCount: widths.featureCount, hiddenCount: widths.hiddenCount,
      classCount: widths.classCount)
    {
      guard let tensor = tensors[name] else {
        throw ModelError(
          code: .invalidHead,
          message: "the head has no \(name); use a checkpoint written by `dropnet train`")
      }
      guard tensor.shape == shape, tensor.values.count == shape.reduce(1, *) else {
        throw ModelError(
          code: .invalidHead,
          message: "\(name) is \(tensor.shape), expected \(shape) for a \(widths.featureCount) "
            + "-> \(widths.hiddenCount) -> \(widths.classCount) head")
      }
    }
    guard metadata.classLabels.count == widths.classCount else {
      throw ModelError(
        code: .invalidHead,
        message: "the checkpoint names \(metadata.classLabels.count) classes but its head has "
          + "\(widths.classCount) outputs; use a checkpoint written by `dropnet train`")
    }
    return widths
  }

  /// The classifier after the pooled features, as trained: the trained head's layers, or for a
  /// checkpoint without one (the imported ImageNet weights) the logits convolution.
  public func classifierHead() throws -> ClassifierHead {
    guard hasTrainedHead else { return try ClassifierHead.logitsConvolution(of: self) }
    let widths = try trainedHeadWidths()
    func innerProduct(_ weights: String, _ biases: String, _ inputs: Int, _ outputs: Int)
      -> ClassifierHead.InnerProduct
    {
      // Keras' Dense kernel is [inputs, outputs].
      ClassifierHead.InnerProduct(
        inputMajorWeights: tensors[weights]!.values, bias: tensors[biases]!.values,
        inputCount: inputs, outputCount: outputs)
    }
    let batchNorm = ClassifierHead.BatchNorm(
      gamma: tensors[HeadTensorName.batchNormGamma]!.values,
      beta: tensors[HeadTensorName.batchNormBeta]!.values,
      mean: tensors[HeadTensorName.batchNormMovingMean]!.values,
      variance: tensors[HeadTensorName.batchNormMovingVariance]!.values)
    return ClassifierHead(layers: [
      .innerProduct(
        innerProduct(
          HeadTensorName.fc1Weights, HeadTensorName.fc1Biases, widths.featureCount,
          widths.hiddenCount)),
      .relu, .batchNorm(batchNorm), .dropout,
      .innerProduct(
        innerProduct(
          HeadTensorName.fc2Weights, HeadTensorName.fc2Biases, widths.hiddenCount,
          widths.classCount)),
    ])
  }

  /// This checkpoint's base (a head it had is replaced, never mixed) with `base` tensors
  /// replacing the ones trained, the `head` tensors (`HeadTensorName`), `labels` in output
  /// order, and `facts` added to the metadata: the one way a trained checkpoint is made.
  public func trained(
    base trainedBase: [String: HostTensor] = [:], head: [String: HostTensor], labels: [String],
    facts: [String: String] = [:]
  ) -> Checkpoint {
    var tensors = baseTensors
    tensors.merge(trainedBase) { _, new in new }
    tensors.merge(head) { _, new in new }
    var metadata = self.metadata
    metadata.classLabels = labels
    metadata.extra.merge(facts) { _, new in new }
    if let hidden = head[HeadTensorName.fc1Biases]?.values.count {
      metadata.extra["head"] = "dense\(hidden)_relu_batchnorm_dropout_dense_softmax"
    }
    return Checkpoint(tensors: tensors, metadata: metadata)
  }
}
