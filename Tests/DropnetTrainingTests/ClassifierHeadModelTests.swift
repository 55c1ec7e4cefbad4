import DropnetArchitecture
import DropnetEngine
import DropnetModel
import XCTest

@testable import DropnetTraining

/// The head's backward pass against finite differences, its optimiser bookkeeping, and that
/// it can fit a small set.
final class ClassifierHeadModelTests: XCTestCase {
  /// Central-difference step: small against the O(1) inputs, large against Double's 1e-16.
  let finiteDifferenceStep = 1e-6
  /// Largest |analytic - numeric| / max(1e-8, |analytic| + |numeric|) allowed. Central
  /// differences err by O(step^2) ~ 1e-12 plus rounding ~ 1e-16 / step ~ 1e-10.
  let relativeTolerance = 1e-5

  private func tinyBatch(seed: UInt64) -> (features: [Double], classes: [Int]) {
    var random = SeededRandom(seed: seed)
    let features = (0..<(6 * 5)).map { _ in random.uniform(-1...2) }
    return (features, [0, 1, 2, 0, 1, 2])
  }

  func testGradientsMatchFiniteDifferences() throws {
    var head = try ClassifierHeadModel(
      featureCount: 5, hiddenCount: 4, classCount: 3, dropoutRate: 0.5, seed: 7)
    // Non-trivial BN parameters and biases so every term of the backward pass matters.
    head.parameters.gamma = [1.5, 0.7, -0.4, 1.1]
    head.parameters.beta = [0.1, -0.2, 0.3, 0.05]
    head.parameters.fc1Biases = [0.2, -0.1, 0.05, 0.3]
    head.parameters.fc2Biases = [0.1, 0, -0.1]
    let (features, classes) = tinyBatch(seed: 3)
    let classWeights = [0.5, 2.0, 1.25]
    let dropoutSeed: UInt64 = 11
    let analytic = head.trainingPass(
      features: features, classIndices: classes, classWeights: classWeights,
      dropoutSeed: dropoutSeed
    ).gradients.arrays
    var checked = 0
    for part in analytic.indices {
      for index in analytic[part].indices {
        var plus = head
        var arrays = plus.parameters.arrays
        arrays[part][index] += finiteDifferenceStep
        plus.parameters.arrays = arrays
        var minus = head
        arrays = minus.parameters.arrays
        arrays[part][index] -= finiteDifferenceStep
        minus.parameters.arrays = arrays
        let lossPlus = plus.trainingPass(
          features: features, classIndices: classes, classWeights: classWeights,
          dropoutSeed: dropoutSeed
        ).loss
        let lossMinus = minus.trainingPass(
          features: features, classIndices: classes, classWeights: classWeights,
          dropoutSeed: dropoutSeed
        ).loss
        let numeric = (lossPlus - lossMinus) / (2 * finiteDifferenceStep)
        let value = analytic[part][index]
        let error = abs(value - numeric) / max(1e-8, abs(value) + abs(numeric))
        XCTAssertLessThan(
          error, relativeTolerance, "part \(part) index \(index): \(value) vs \(numeric)")
        checked += 1
      }
    }
    XCTAssertEqual(checked, 5 * 4 + 4 + 4 + 4 + 4 * 3 + 3)
    // Dropout really masks: another mask gives other fc2 gradients.
    let otherMask = head.trainingPass(
      features: features, classIndices: classes, classWeights: classWeights, dropoutSeed: 12
    ).gradients
    XCTAssertNotEqual(otherMask.fc2Weights, analytic[4])
  }

  func testStepUpdatesMomentumAndRunningStatisticsAsKeras() throws {
    var head = try ClassifierHeadModel(
      featureCount: 5, hiddenCount: 4, classCount: 3, dropoutRate: 0, seed: 1)
    let (features, classes) = tinyBatch(seed: 5)
    let before = head
    let learningRate = 0.1
    let pass = head.train(
      features: features.map(Float.init), classIndices: classes, classWeights: [1, 1, 1],
      learningRate: learningRate, momentum: 0.9, dropoutSeed: 0)
    // First step: v = -lr * g, p = p0 + v.
    for (index, value) in head.parameters.fc2Weights.enumerated() {
      XCTAssertEqual(
        value,
        before.parameters.fc2Weights[index] - learningRate * pass.gradients.fc2Weights[index],
        accuracy: 1e-12)
    }
    // Running statistics: 0.99 * initial + 0.01 * batch, the variance biased (divided by N).
    for unit in 0..<4 {
      XCTAssertEqual(head.movingMean[unit], 0.01 * pass.batchMean[unit], accuracy: 1e-12)
      XCTAssertEqual(
        head.movingVariance[unit], 0.99 + 0.01 * pass.batchVariance[unit], accuracy: 1e-12)
    }
    // Biased variance of unit 0, recomputed from the layer's own forward.
    let hidden = ClassifierHeadModel.dense(
      features.map { Double(Float($0)) }, count: 6, inputCount: 5, outputCount: 4,
      weights: before.parameters.fc1Weights, biases: before.parameters.fc1Biases
    ).map { max(0, $0) }
    let column = stride(from: 0, to: hidden.count, by: 4).map { hidden[$0] }
    let mean = column.reduce(0, +) / 6
    let biased = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
    XCTAssertEqual(pass.batchVariance[0], biased, accuracy: 1e-9)
  }

  func testGlorotUniformStaysWithinKerasLimitAndIsSeeded() throws {
    let head = try ClassifierHeadModel(classCount: 4, seed: 3)
    let limit = (6.0 / Double(1024 + 256)).squareRoot()
    XCTAssertLessThanOrEqual(head.parameters.fc1Weights.map(abs).max()!, limit)
    XCTAssertGreaterThan(head.parameters.fc1Weights.map(abs).max()!, 0.99 * limit)
    XCTAssertEqual(try ClassifierHeadModel(classCount: 4, seed: 3), head)
    XCTAssertNotEqual(try ClassifierHeadModel(classCount: 4, seed: 4), head)
  }

  func testTensorsRoundTrip() throws {
    var head = try ClassifierHeadModel(featureCount: 8, hiddenCount: 4, classCount: 3, seed: 2)
    head.movingMean = [0.5, 0.25, 1, 2]
    let back = try ClassifierHeadModel(tensors: head.tensors)
    let features: [Float] = (0..<16).map { Float($0) / 8 }
    let expected = head.probabilities(features: features)
    let actual = back.probabilities(features: features)
    for (left, right) in zip(expected, actual) { XCTAssertEqual(left, right, accuracy: 1e-6) }
    var missing = head.tensors
    missing[Checkpoint.HeadTensorName.batchNormBeta] = nil
    XCTAssertThrowsError(try ClassifierHeadModel(tensors: missing))
  }
}
