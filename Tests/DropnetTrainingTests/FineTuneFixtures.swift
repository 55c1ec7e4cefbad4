import DropnetArchitecture
import DropnetEngine
import DropnetModel
import DropnetTestSupport
import DropnetTraining
import Foundation

/// Weights and inputs for the fine-tuning tests: the real ImageNet base, and deterministic
/// tensors without a file. The head's are the numbers Fixtures/make_finetune_reference.py
/// makes (element i of tensor number t from wave(i, t) = sin(12.9898 i + 78.233 t), computed
/// in Double and rounded to Float); `base()` uses the same waves for a base that needs no
/// weights file (the script uses the real ImageNet base).
enum FineTuneFixtures {
  private static let imported = Result { try importImageNet() }

  /// The ImageNet MobileNet v1 checkpoint imported from examples/weights
  /// (examples/fetch-weights.sh), once per test process.
  static func imageNetCheckpoint() throws -> Checkpoint { try imported.get() }

  private static func importImageNet() throws -> Checkpoint {
    let url = TestFiles.packageRoot.appendingPathComponent(
      "examples/weights/mobilenet_v1_imagenet.pb")
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw TestFiles.Missing("\(url.path) is missing: run bash examples/fetch-weights.sh")
    }
    return try WeightsImporter.importGraph(at: url)
  }

  /// Its tensors.
  static func imageNet() throws -> [String: HostTensor] { try imageNetCheckpoint().tensors }

  /// sin(12.9898 i + 78.233 t) for i in 0..<count.
  static func wave(count: Int, tensor: Int) -> [Double] {
    (0..<count).map { sin(12.9898 * Double($0) + 78.233 * Double(tensor)) }
  }

  /// Every base tensor (tensor number = position in `MobileNetV1Trainable.tensorNames`), plus
  /// zero ImageNet logits so `MobileNetV1` (inference) accepts the set too.
  static func base() -> [String: HostTensor] {
    let shapes = Dictionary(
      uniqueKeysWithValues: MobileNetV1Architecture.tensorShapes().map { ($0.name, $0.shape) })
    var tensors: [String: HostTensor] = [:]
    for (number, name) in MobileNetV1Trainable.tensorNames.enumerated() {
      let shape = shapes[name]!
      let count = shape.reduce(1, *)
      let wave = wave(count: count, tensor: number)
      let values: [Double]
      if name.hasSuffix("weights") {
        // [K, K, I, O] or [K, K, C, 1]: a depthwise filter sees one channel.
        let fanIn = shape[0] * shape[1] * (name.hasSuffix("depthwise_weights") ? 1 : shape[2])
        let scale = (3.0 / Double(fanIn)).squareRoot()
        values = wave.map { scale * $0 }
      } else if name.hasSuffix("gamma") {
        values = wave.map { 1 + 0.2 * $0 }
      } else if name.hasSuffix("beta") || name.hasSuffix("moving_mean") {
        values = wave.map { 0.1 * $0 }
      } else {
        values = wave.map { 1 + 0.5 * abs($0) }
      }
      tensors[name] = HostTensor(shape: shape, values: values.map { Float($0) })
    }
    for name in [
      MobileNetV1Architecture.logitsScope + "/weights",
      MobileNetV1Architecture.logitsScope + "/biases",
    ] {
      let shape = shapes[name]!
      tensors[name] = HostTensor(
        shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
    }
    return tensors
  }

  /// Head tensor numbers start here (1000 + position in `Checkpoint.HeadTensorName.shapes`).
  static let headTensor = 1000

  /// A head of `hiddenCount` units and `classCount` classes from waves (dropout off).
  static func head(hiddenCount: Int, classCount: Int) throws -> ClassifierHeadModel {
    typealias Name = Checkpoint.HeadTensorName
    var tensors: [String: HostTensor] = [:]
    let shapes = Name.shapes(
      featureCount: MobileNetV1Architecture.featureCount, hiddenCount: hiddenCount,
      classCount: classCount)
    for (position, (name, shape)) in shapes.enumerated() {
      let wave = wave(count: shape.reduce(1, *), tensor: headTensor + position)
      let values: [Double]
      switch name {
      case Name.fc1Weights:
        let scale = (6.0 / Double(MobileNetV1Architecture.featureCount + hiddenCount)).squareRoot()
        values = wave.map { scale * $0 }
      case Name.fc2Weights:
        let scale = (6.0 / Double(hiddenCount + classCount)).squareRoot()
        values = wave.map { scale * $0 }
      case Name.batchNormGamma: values = wave.map { 1 + 0.1 * $0 }
      case Name.batchNormMovingVariance: values = wave.map { 1 + 0.5 * abs($0) }
      default: values = wave.map { 0.05 * $0 }
      }
      tensors[name] = HostTensor(shape: shape, values: values.map { Float($0) })
    }
    var head = try ClassifierHeadModel(tensors: tensors)
    head.dropoutRate = 0
    return head
  }

  /// [batchSize, side, side, 3]: a different smooth pattern per image (white noise would give
  /// every image nearly the same pooled features),
  /// 0.9 sin(0.05 (n + 1) x + 0.07 (c + 1) y + 0.5 n + 0.3 c).
  static func images(batchSize: Int, side: Int) -> HostTensor {
    var values: [Float] = []
    values.reserveCapacity(batchSize * side * side * 3)
    for image in 0..<batchSize {
      for row in 0..<side {
        for column in 0..<side {
          for channel in 0..<3 {
            let angle =
              0.05 * Double(image + 1) * Double(column) + 0.07 * Double(channel + 1) * Double(row)
              + 0.5 * Double(image) + 0.3 * Double(channel)
            values.append(Float(0.9 * sin(angle)))
          }
        }
      }
    }
    return HostTensor(shape: [batchSize, side, side, 3], values: values)
  }

  /// Fixtures/finetune_reference.json: Keras/TensorFlow runs of a few SGD steps
  /// (Fixtures/make_finetune_reference.py), in float32 and float64.
  struct Reference: Decodable {
    struct Recorded: Decodable {
      var indices: [Int]
      var values: [Double]
    }
    struct Run: Decodable {
      var trainedConvolutions: Int
      var losses: [Double]
      var tensors: [String: Recorded]
      var inferenceLogits: [Double]
      /// The same run in float64.
      var losses64: [Double]
      var tensors64: [String: Recorded]
      var inferenceLogits64: [Double]
    }
    var imageSize: Int
    var batchSize: Int
    var hiddenCount: Int
    var classCount: Int
    var labels: [Int]
    var classWeights: [Double]
    var learningRate: Double
    var momentum: Double
    var runs: [Run]
  }

  /// The reference runs.
  static func reference() throws -> Reference {
    let url = TestFiles.packageRoot.appendingPathComponent(
      "Tests/DropnetTrainingTests/Fixtures/finetune_reference.json")
    return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
  }
}
