import DropnetCoreML
import DropnetModel
import DropnetTraining

/// Maps the head `HeadTrainer` writes into a checkpoint (Dense, ReLU, BatchNorm, Dropout,
/// Dense; Keras layouts) to CoreML layers. Shared by `dropnet export` and the daemon.
public enum TrainedHeadExport {
  /// The checkpoint's trained head as CoreML layers, or nil for a checkpoint without one.
  public static func classifierHead(of checkpoint: Checkpoint) throws -> ClassifierHead? {
    guard
      checkpoint.tensors.keys.contains(where: {
        $0.hasPrefix(ClassifierHeadModel.TensorName.prefix)
      })
    else { return nil }
    // Validates every head tensor's presence and shape before the unchecked reads below.
    _ = try ClassifierHeadModel(tensors: checkpoint.tensors)
    let names = ClassifierHeadModel.TensorName.self
    let tensors = checkpoint.tensors
    /// Keras' Dense kernel is [inputs, outputs]; CoreML wants row-major [outputs, inputs].
    func innerProduct(_ weights: String, _ biases: String) -> ClassifierHead.InnerProduct {
      let kernel = tensors[weights]!
      let (inputs, outputs) = (kernel.shape[0], kernel.shape[1])
      var transposed = [Float](repeating: 0, count: inputs * outputs)
      for input in 0..<inputs {
        for output in 0..<outputs {
          transposed[output * inputs + input] = kernel.values[input * outputs + output]
        }
      }
      return ClassifierHead.InnerProduct(
        weights: transposed, bias: tensors[biases]!.values, inputCount: inputs,
        outputCount: outputs)
    }
    let batchNorm = ClassifierHead.BatchNorm(
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

  /// Options and base-only checkpoint for `CoreMLExporter.export`: a checkpoint with a trained
  /// head exports that head; one without exports its ImageNet logits.
  public static func prepare(_ checkpoint: Checkpoint, options: CoreMLExportOptions) throws -> (
    Checkpoint, CoreMLExportOptions
  ) {
    var checkpoint = checkpoint
    var options = options
    if let head = try classifierHead(of: checkpoint) {
      options.head = head
      checkpoint.tensors = ClassifierHeadModel.TensorName.baseTensors(of: checkpoint.tensors)
    }
    return (checkpoint, options)
  }
}
