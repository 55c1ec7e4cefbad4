import DropnetModel
import DropnetTraining

extension ClassifierHead {
  /// The head `dropnet train` adds to a checkpoint (`ClassifierHeadModel.TensorName`: Dense,
  /// ReLU, BatchNorm, Dropout, Dense, in Keras layouts) as the layers export folds, or nil
  /// for a checkpoint without one (e.g. the imported ImageNet weights).
  public static func trained(of checkpoint: Checkpoint) throws -> ClassifierHead? {
    let names = ClassifierHeadModel.TensorName.self
    guard checkpoint.tensors.keys.contains(where: { $0.hasPrefix(names.prefix) }) else {
      return nil
    }
    // Checks every head tensor's presence and shape before the layouts are converted.
    do {
      _ = try ClassifierHeadModel(tensors: checkpoint.tensors)
    } catch let error as TrainingError {
      throw CoreMLExportError(
        code: .invalidHead, message: "\(error.message); export a checkpoint from `dropnet train`")
    }
    let tensors = checkpoint.tensors
    // Keras' Dense kernel is [inputs, outputs].
    func innerProduct(_ weights: String, _ biases: String) -> InnerProduct {
      let kernel = tensors[weights]!
      return InnerProduct(
        inputMajorWeights: kernel.values, bias: tensors[biases]!.values,
        inputCount: kernel.shape[0], outputCount: kernel.shape[1])
    }
    let batchNorm = BatchNorm(
      gamma: tensors[names.batchNormGamma]!.values, beta: tensors[names.batchNormBeta]!.values,
      mean: tensors[names.batchNormMovingMean]!.values,
      variance: tensors[names.batchNormMovingVariance]!.values,
      epsilon: Float(ClassifierHeadModel.batchNormEpsilon))
    return ClassifierHead(layers: [
      .innerProduct(innerProduct(names.fc1Weights, names.fc1Biases)), .relu,
      .batchNorm(batchNorm), .dropout,
      .innerProduct(innerProduct(names.fc2Weights, names.fc2Biases)),
    ])
  }
}
