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
    // Keras' Dense kernel is [inputs, outputs]; CoreML wants row-major [outputs, inputs].
    func innerProduct(_ weights: String, _ biases: String) -> InnerProduct {
      let kernel = tensors[weights]!
      let (inputs, outputs) = (kernel.shape[0], kernel.shape[1])
      var transposed = [Float](repeating: 0, count: inputs * outputs)
      for input in 0..<inputs {
        for output in 0..<outputs {
          transposed[output * inputs + input] = kernel.values[input * outputs + output]
        }
      }
      return InnerProduct(
        weights: transposed, bias: tensors[biases]!.values, inputCount: inputs,
        outputCount: outputs)
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
