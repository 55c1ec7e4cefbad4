import DropnetArchitecture
import DropnetEngine
import XCTest

@testable import DropnetTraining

/// Whole-network gradient check of fine-tuning: the loss of MobileNetV1Trainable + head
/// (training mode: batch statistics, no dropout) against central finite differences, for batch
/// norm gammas and betas low and high in the network, convolution weights (all layers train
/// here) and the input. The real ImageNet weights keep the network well conditioned (synthetic
/// weights gave a chaotic loss no finite difference can follow). The network computes in
/// Float, so each checked element is the one with the largest gradient in its tensor, where
/// float rounding is small against the slope.
final class FineTuneGradientTests: XCTestCase {
  /// |numeric - analytic| <= relativeTolerance * |analytic| + absoluteTolerance (the float32
  /// loss's rounding, ~1e-7, over steps of 1e-4 to 3e-4).
  let relativeTolerance = 0.05
  let absoluteTolerance = 5e-4
  let side = 96
  let batchSize = 4

  func testGradientsMatchFiniteDifferences() throws {
    let network = try MobileNetV1Trainable(
      weights: FineTuneFixtures.imageNet(), batchSize: batchSize, threads: 1, imageSize: side,
      trainedConvolutionCount: MobileNetV1Trainable.convolutionCount,
      computesInputGradient: true)
    let head = try FineTuneFixtures.head(hiddenCount: 16, classCount: 3)
    let images = FineTuneFixtures.images(batchSize: batchSize, side: side)
    let classes = [0, 2, 1, 2]
    let classWeights = [1.0, 0.75, 1.5]
    func loss(_ input: HostTensor) throws -> Double {
      let features = try network.forward(input)
      return head.trainingPass(
        features: features.values.map(Double.init), classIndices: classes,
        classWeights: classWeights, dropoutSeed: 0
      ).loss
    }
    let features = try network.forward(images)
    let pass = head.trainingPass(
      features: features.values.map(Double.init), classIndices: classes,
      classWeights: classWeights, dropoutSeed: 0, computeFeatureGradients: true)
    try network.backward(
      featureGradients: HostTensor(
        shape: features.shape, values: pass.featureGradients.map(Float.init)))
    // Steps are small because the loss has a ReLU6 kink wherever a unit sits at 0 or 6: a
    // low layer's gamma moves ~10^5 units, and with h = 1e-2 enough of them cross a kink
    // that the difference does not even get the sign right (measured on Conv2d_0's gamma:
    // h = 1e-2 gives +0.48, h = 3e-4 gives -0.93, the analytic value is -0.90).
    let checked: [(name: String, step: Float)] = [
      ("MobilenetV1/Conv2d_0/BatchNorm/gamma", 3e-4),
      ("MobilenetV1/Conv2d_0/BatchNorm/beta", 3e-4),
      ("MobilenetV1/Conv2d_3_depthwise/BatchNorm/gamma", 3e-4),
      ("MobilenetV1/Conv2d_7_pointwise/BatchNorm/beta", 3e-4),
      ("MobilenetV1/Conv2d_13_pointwise/BatchNorm/gamma", 3e-4),
      ("MobilenetV1/Conv2d_13_pointwise/BatchNorm/beta", 3e-4),
      ("MobilenetV1/Conv2d_0/weights", 1e-4),
      ("MobilenetV1/Conv2d_6_depthwise/depthwise_weights", 1e-4),
      ("MobilenetV1/Conv2d_13_pointwise/weights", 1e-4),
    ]
    var analytic: [(String, Int, Double)] = []
    for (name, _) in checked {
      let gradient = try network.gradient(named: name).values
      let index = gradient.indices.max { abs(gradient[$0]) < abs(gradient[$1]) }!
      analytic.append((name, index, Double(gradient[index])))
    }
    let inputGradient = try XCTUnwrap(try network.inputGradient()).values
    let pixel = inputGradient.indices.max { abs(inputGradient[$0]) < abs(inputGradient[$1]) }!

    for ((name, step), (_, index, expected)) in zip(checked, analytic) {
      let original = try network.tensor(named: name)
      var plus = original
      plus.values[index] += step
      try network.setTensor(named: name, to: plus)
      let lossPlus = try loss(images)
      var minus = original
      minus.values[index] -= step
      try network.setTensor(named: name, to: minus)
      let lossMinus = try loss(images)
      try network.setTensor(named: name, to: original)
      let numeric = (lossPlus - lossMinus) / (2 * Double(step))
      XCTAssertEqual(
        numeric, expected, accuracy: relativeTolerance * abs(expected) + absoluteTolerance,
        "\(name)[\(index)]")
      XCTAssertGreaterThan(abs(expected), 10 * absoluteTolerance, "\(name) has a real gradient")
    }
    let step: Float = 3e-4
    var plus = images
    plus.values[pixel] += step
    var minus = images
    minus.values[pixel] -= step
    let numeric = (try loss(plus) - loss(minus)) / (2 * Double(step))
    let expected = Double(inputGradient[pixel])
    XCTAssertEqual(
      numeric, expected, accuracy: relativeTolerance * abs(expected) + absoluteTolerance,
      "input[\(pixel)]")
  }

  /// In batch-norm mode only gammas and betas train, and the convolutions report no gradient.
  func testBatchNormModeTrainsOnlyBatchNorms() throws {
    let network = try MobileNetV1Trainable(
      weights: FineTuneFixtures.base(), batchSize: batchSize, threads: 1, imageSize: 32)
    XCTAssertEqual(network.trainedTensorNames.count, 2 * MobileNetV1Trainable.convolutionCount)
    XCTAssertTrue(network.trainedTensorNames.allSatisfy { $0.contains("BatchNorm") })
    XCTAssertThrowsError(try network.gradient(named: "MobilenetV1/Conv2d_13_pointwise/weights"))
    let top = try MobileNetV1Trainable(
      weights: FineTuneFixtures.base(), batchSize: batchSize, threads: 1, imageSize: 32,
      trainedConvolutionCount: 4)
    XCTAssertEqual(
      top.trainedTensorNames.filter { !$0.contains("BatchNorm") },
      [
        "MobilenetV1/Conv2d_12_depthwise/depthwise_weights",
        "MobilenetV1/Conv2d_12_pointwise/weights",
        "MobilenetV1/Conv2d_13_depthwise/depthwise_weights",
        "MobilenetV1/Conv2d_13_pointwise/weights",
      ])
  }

  /// Tensors come back exactly as loaded (TF layouts survive the engine's blocked layouts).
  func testTensorsRoundTrip() throws {
    let weights = FineTuneFixtures.base()
    let network = try MobileNetV1Trainable(
      weights: weights, batchSize: batchSize, threads: 1, imageSize: 32,
      trainedConvolutionCount: MobileNetV1Trainable.convolutionCount)
    let tensors = try network.tensors()
    XCTAssertEqual(Set(tensors.keys), Set(MobileNetV1Trainable.tensorNames))
    for (name, tensor) in tensors { XCTAssertEqual(tensor, weights[name], name) }
  }
}
