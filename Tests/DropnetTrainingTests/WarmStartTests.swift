import DropnetArchitecture
import DropnetEngine
import DropnetModel
import XCTest

@testable import DropnetTraining

/// Warm start from a checkpoint's head when the classes change: the label order, the rows
/// kept bit for bit, the rows added as a fresh head would, and the errors.
final class WarmStartTests: XCTestCase {
  let featureCount = 6
  let hiddenCount = 4
  let seed: UInt64 = 11

  /// A checkpoint whose head has distinct, non-default values everywhere (a few SGD steps on
  /// random features, then distinct biases), labelled `labels`.
  private func checkpoint(labels: [String]) throws -> Checkpoint {
    var head = try ClassifierHeadModel(
      featureCount: featureCount, hiddenCount: hiddenCount, classCount: labels.count,
      dropoutRate: 0, seed: 3)
    var random = SeededRandom(seed: 5)
    for step in 0..<3 {
      let features = (0..<(8 * featureCount)).map { _ in Float(random.uniform(-1...2)) }
      head.train(
        features: features, classIndices: (0..<8).map { $0 % labels.count },
        classWeights: Array(repeating: 1, count: labels.count), learningRate: 0.1,
        dropoutSeed: UInt64(step))
    }
    head.parameters.fc2Biases = labels.indices.map { 0.125 * Double($0 + 1) }
    let metadata = CheckpointMetadata(
      architecture: MobileNetV1Architecture.identifier, preprocessing: ImagePreprocessor.identifier,
      classLabels: labels)
    return Checkpoint(tensors: head.tensors, metadata: metadata)
  }

  /// Column `column` of a [hidden, classes] Keras kernel.
  private func column(_ tensor: HostTensor, _ column: Int) -> [Float] {
    let classes = tensor.shape[1]
    return (0..<tensor.shape[0]).map { tensor.values[$0 * classes + column] }
  }

  struct Case {
    var name: String
    var previous: [String]
    /// The classes of the new data, as a directory listing gives them (sorted).
    var current: [String]
    var expectedOrder: [String]
  }

  let cases = [
    Case(
      name: "same", previous: ["a", "b", "c"], current: ["a", "b", "c"],
      expectedOrder: ["a", "b", "c"]),
    Case(
      name: "grow", previous: ["a", "b", "c"], current: ["a", "b", "c", "d"],
      expectedOrder: ["a", "b", "c", "d"]),
    Case(
      name: "grow in the middle", previous: ["a", "c"], current: ["a", "b", "c"],
      expectedOrder: ["a", "c", "b"]),
    Case(
      name: "shrink", previous: ["a", "b", "c"], current: ["a", "c"], expectedOrder: ["a", "c"]),
    Case(
      name: "reorder", previous: ["c", "a", "b"], current: ["a", "b", "c"],
      expectedOrder: ["c", "a", "b"]),
    Case(
      name: "mixed", previous: ["c", "a", "b"], current: ["a", "b", "e", "d"],
      expectedOrder: ["a", "b", "d", "e"]),
  ]

  func testLabelOrderFollowsTheCheckpointNotTheDirectory() {
    for test in cases {
      XCTAssertEqual(
        ClassifierHeadModel.warmStartLabelOrder(previous: test.previous, current: test.current),
        test.expectedOrder, test.name)
    }
  }

  func testKeptRowsAreBitExactAndNewRowsAreAFreshHeads() throws {
    let names = Checkpoint.HeadTensorName.self
    for test in cases {
      let old = try checkpoint(labels: test.previous)
      let order = ClassifierHeadModel.warmStartLabelOrder(
        previous: test.previous, current: test.current)
      let head = try ClassifierHeadModel(
        initialisedFrom: old, labels: order, hiddenCount: hiddenCount, seed: seed)
      let fresh = try ClassifierHeadModel(
        featureCount: featureCount, hiddenCount: hiddenCount, classCount: order.count, seed: seed)
      XCTAssertEqual(head.classCount, order.count, test.name)
      let new = head.tensors
      let freshTensors = fresh.tensors
      // Everything before the last layer is the checkpoint's, exactly.
      for name in [
        names.fc1Weights, names.fc1Biases, names.batchNormGamma, names.batchNormBeta,
        names.batchNormMovingMean, names.batchNormMovingVariance,
      ] {
        XCTAssertEqual(new[name], old.tensors[name], "\(test.name): \(name)")
      }
      let oldWeights = try XCTUnwrap(old.tensors[names.fc2Weights])
      let oldBiases = try XCTUnwrap(old.tensors[names.fc2Biases])
      let newWeights = try XCTUnwrap(new[names.fc2Weights])
      let newBiases = try XCTUnwrap(new[names.fc2Biases])
      XCTAssertEqual(newWeights.shape, [hiddenCount, order.count], test.name)
      for (index, label) in order.enumerated() {
        if let oldIndex = test.previous.firstIndex(of: label) {
          XCTAssertEqual(
            column(newWeights, index).map(\.bitPattern),
            column(oldWeights, oldIndex).map(\.bitPattern), "\(test.name): row of \(label)")
          XCTAssertEqual(
            newBiases.values[index].bitPattern, oldBiases.values[oldIndex].bitPattern,
            "\(test.name): bias of \(label)")
        } else {
          XCTAssertEqual(
            column(newWeights, index), column(freshTensors[names.fc2Weights]!, index),
            "\(test.name): new row of \(label) is a fresh head's")
          XCTAssertEqual(newBiases.values[index], 0, "\(test.name): new bias of \(label)")
        }
      }
      // Same classes in the same order: the head is the checkpoint's, every tensor.
      if test.previous == test.current { XCTAssertEqual(new, old.tensors, test.name) }
    }
  }

  func testAHiddenSizeMismatchIsAClearError() throws {
    let old = try checkpoint(labels: ["a", "b"])
    XCTAssertThrowsError(
      try ClassifierHeadModel(initialisedFrom: old, labels: ["a", "b"], hiddenCount: 8)
    ) { error in
      let message = (error as? TrainingError)?.message ?? ""
      XCTAssertEqual((error as? TrainingError)?.code, .invalidSetting)
      XCTAssertTrue(message.contains("4 hidden units") && message.contains("8"), message)
    }
  }

  func testACheckpointWithoutAHeadOrWithWrongLabelsIsRefused() throws {
    var old = try checkpoint(labels: ["a", "b"])
    var headless = old
    headless.tensors = Checkpoint.baseTensors(of: old.tensors)
    XCTAssertThrowsError(try ClassifierHeadModel(initialisedFrom: headless, labels: ["a", "b"])) {
      XCTAssertTrue("\($0)".contains("no trained head"), "\($0)")
    }
    old.metadata.classLabels = ["a", "b", "c"]
    XCTAssertThrowsError(try ClassifierHeadModel(initialisedFrom: old, labels: ["a", "b"])) {
      XCTAssertTrue("\($0)".contains("names 3 classes"), "\($0)")
    }
    old.metadata.classLabels = ["a", "b"]
    XCTAssertThrowsError(try ClassifierHeadModel(initialisedFrom: old, labels: ["a", "a"])) {
      XCTAssertTrue("\($0)".contains("repeat"), "\($0)")
    }
  }
}
