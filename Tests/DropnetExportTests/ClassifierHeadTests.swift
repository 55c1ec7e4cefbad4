import DropnetCoreMLReader
import DropnetExport
import DropnetModel
import Foundation
import XCTest

/// Folding a trained head for inference, and exporting a fine-tuned-style head.
final class ClassifierHeadTests: XCTestCase {
  /// Deterministic values in [-1, 1) (a 64-bit LCG), so failures reproduce.
  struct Numbers {
    var state: UInt64
    mutating func next() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1
    }
    mutating func array(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
  }

  static func dense(_ inputs: Int, _ outputs: Int, _ numbers: inout Numbers) -> ClassifierHead.Layer
  {
    .innerProduct(
      ClassifierHead.InnerProduct(
        weights: numbers.array(inputs * outputs), bias: numbers.array(outputs),
        inputCount: inputs, outputCount: outputs))
  }

  static func batchNorm(_ channels: Int, _ numbers: inout Numbers) -> ClassifierHead.Layer {
    .batchNorm(
      ClassifierHead.BatchNorm(
        gamma: numbers.array(channels).map { 1 + $0 / 2 }, beta: numbers.array(channels),
        mean: numbers.array(channels), variance: numbers.array(channels).map { 1.5 + $0 },
        epsilon: 0.001))
  }

  /// The layers applied one by one in Double, as training's inference mode computes them.
  static func run(_ layers: [ClassifierHead.Layer], _ input: [Float]) -> [Double] {
    var values = input.map(Double.init)
    for layer in layers {
      switch layer {
      case .innerProduct(let product):
        values = (0..<product.outputCount).map { output in
          (0..<product.inputCount).reduce(Double(product.bias[output])) { sum, input in
            sum + Double(product.weights[output * product.inputCount + input]) * values[input]
          }
        }
      case .relu:
        values = values.map { max(0, $0) }
      case .batchNorm(let norm):
        values = values.indices.map { channel in
          Double(norm.gamma[channel]) * (values[channel] - Double(norm.mean[channel]))
            / (Double(norm.variance[channel]) + Double(norm.epsilon)).squareRoot()
            + Double(norm.beta[channel])
        }
      case .dropout:
        break
      }
    }
    return values
  }

  func testFoldingKeepsTheHeadsOutputs() throws {
    var numbers = Numbers(state: 7)
    // The head `dropnet train` adds (Dense, ReLU, BN, Dropout, Dense) and a Dense -> BN one.
    let heads = [
      ClassifierHead(layers: [
        Self.dense(6, 5, &numbers), .relu, Self.batchNorm(5, &numbers), .dropout,
        Self.dense(5, 3, &numbers),
      ]),
      ClassifierHead(layers: [
        Self.dense(6, 4, &numbers), Self.batchNorm(4, &numbers), .relu, Self.dense(4, 3, &numbers),
      ]),
    ]
    for head in heads {
      let folded = try head.folded(featureCount: 6)
      XCTAssertFalse(folded.contains { if case .batchNorm = $0 { true } else { false } })
      XCTAssertFalse(folded.contains(.dropout))
      for _ in 0..<5 {
        let input = numbers.array(6).map { $0 * 3 }
        let expected = Self.run(head.layers, input)
        let actual = Self.run(folded, input)
        XCTAssertEqual(actual.count, 3)
        for (left, right) in zip(actual, expected) {
          // Folded weights are rounded to Float once: relative error ~1e-7 per term.
          XCTAssertEqual(left, right, accuracy: 1e-5)
        }
      }
    }
  }

  func testInconsistentHeadsAreRefused() {
    var numbers = Numbers(state: 11)
    let bad = [
      ClassifierHead(layers: [Self.dense(5, 3, &numbers)]),  // wrong input width
      ClassifierHead(layers: [Self.dense(6, 3, &numbers), .relu]),  // no logits at the end
      ClassifierHead(layers: [.relu, Self.batchNorm(6, &numbers)]),  // nothing to fold into
    ]
    for head in bad {
      XCTAssertThrowsError(try head.folded(featureCount: 6)) { error in
        XCTAssertEqual((error as? ModelError)?.code, .invalidHead, "\(error)")
      }
    }
  }

  func testFineTunedStyleHeadExportsAndCoreMLToolsAcceptsIt() throws {
    var checkpoint = try ExportTestSupport.imageNetCheckpoint()
    checkpoint.metadata.classLabels = ["thumbs_up", "peace sign", "日本語"]
    checkpoint.metadata.extra["validation_accuracy"] = "0.97"
    var numbers = Numbers(state: 3)
    let head = ClassifierHead(layers: [
      Self.dense(1024, 256, &numbers), .relu, Self.batchNorm(256, &numbers), .dropout,
      Self.dense(256, 3, &numbers),
    ])
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ExportTestSupport.exportCoreML(
      checkpoint: checkpoint, name: "Gestures", to: folder,
      options: ExportOptions(updatable: true, head: head))
    XCTAssertEqual(result.summary.checkpointMetadata["validation_accuracy"], "0.97")
    let (status, output) = try ExportTestSupport.runCoreMLTools([
      ExportTestSupport.CheckedExport(
        model: result.mlmodelURL, summary: result.summaryURL, updatable: true)
    ])
    XCTAssertEqual(status, 0, output)
    // Body 3,185,088 + 10,944, head 1024x256 + 256 + 256x3 + 3.
    XCTAssertTrue(output.contains("\"parameters\": \(3_185_088 + 10_944 + 262_400 + 771)"), output)
    let model = try CoreMLClassifierFile(contentsOf: result.mlmodelURL)
    XCTAssertEqual(model.classLabels, ["thumbs_up", "peace sign", "日本語"])
    XCTAssertEqual(
      model.layers.suffix(4).map(\.kind), ["innerProduct", "activation", "innerProduct", "softmax"])
    // The reader gives back the folded head exactly (float32 weights), and builds the engine
    // with the head's first inner product as its logits layer.
    XCTAssertEqual(try model.classifierHead(), try head.folded(featureCount: 1024))
    XCTAssertEqual(try model.engineClassCount(), 256)
    let logits = try XCTUnwrap(model.mobileNetWeights()["MobilenetV1/Logits/Conv2d_1c_1x1/weights"])
    XCTAssertEqual(logits.shape, [1, 1, 1024, 256])
  }
}
