import DropnetArchitecture
import DropnetEngine
import XCTest

/// The whole network against the Double reference, batching, capture layout and error paths.
final class MobileNetV1Tests: XCTestCase {
  /// Deterministic random weights of the right shapes, scaled (He-uniform) so activations stay
  /// O(1) through 27 layers and exercise both ReLU6 clips.
  static let weights: [String: HostTensor] = {
    var random = SeededRandom(seed: 42)
    var weights: [String: HostTensor] = [:]
    for (name, shape) in MobileNetV1Architecture.tensorShapes() {
      let count = shape.reduce(1, *)
      let values: [Float]
      if name.hasSuffix("weights") {
        let fanIn = Float(
          shape[0] * shape[1] * (name.hasSuffix("depthwise_weights") ? 1 : shape[2]))
        let limit = (6 / fanIn).squareRoot()
        values = random.uniform(count, in: -limit...limit)
      } else if name.hasSuffix("gamma") {
        values = random.uniform(count, in: 0.5...1.5)
      } else if name.hasSuffix("moving_variance") {
        values = random.uniform(count, in: 0.5...1.5)
      } else {
        values = random.uniform(count, in: -0.2...0.2)  // beta, mean, logits biases
      }
      weights[name] = HostTensor(shape: shape, values: values)
    }
    return weights
  }()

  static func images(count: Int, size: Int, seed: UInt64) -> HostTensor {
    var random = SeededRandom(seed: seed)
    return HostTensor(
      shape: [count, size, size, 3], values: random.uniform(count * size * size * 3, in: -1...1))
  }

  // 27 fp32 layers with up to 9216-term sums (Conv2d_13_pointwise: 1024 inputs x 9): relative
  // error ~1e-5 per layer compounds, so 1e-3 of the tensor's largest magnitude. An indexing or
  // padding mistake shifts values by O(their size).
  let relativeTolerance = 1e-3
  // Probabilities are <= 1 and softmax damps logit errors.
  let probabilityTolerance = 1e-4

  func testForwardMatchesDoubleReferenceIncludingCapturedLayers() throws {
    // 48x48: the stride-2 layers see 48, 24, 12, 6 (even: pad 0 before, 1 after) and 3 (odd:
    // pad 1/1); small enough for the Double reference to stay quick in a debug build.
    let imageSize = 48
    let model = try MobileNetV1(
      weights: Self.weights, batchSize: 2, threads: 2, imageSize: imageSize)
    let input = Self.images(count: 2, size: imageSize, seed: 1)
    let captureNames: Set<String> = [
      "MobilenetV1/Conv2d_0", "MobilenetV1/Conv2d_1_depthwise", "MobilenetV1/Conv2d_1_pointwise",
      "MobilenetV1/Conv2d_6_pointwise", "MobilenetV1/Conv2d_13_pointwise",
    ]
    let output = try model.forward(input, capture: captureNames)
    let reference = ReferenceMobileNet(
      weights: Self.weights, images: input.values, batchSize: 2, imageSize: imageSize)

    XCTAssertEqual(output.features.shape, [2, 1024])
    XCTAssertEqual(output.logits.shape, [2, 1001])
    XCTAssertEqual(output.probabilities.shape, [2, 1001])
    assertRelativelyClose(output.features.values, reference.features, "features")
    assertRelativelyClose(output.logits.values, reference.logits, "logits")
    assertClose(
      output.probabilities.values, reference.probabilities, tolerance: probabilityTolerance,
      "probabilities")
    let expectedShapes = [
      "MobilenetV1/Conv2d_0": [2, 24, 24, 32], "MobilenetV1/Conv2d_1_depthwise": [2, 24, 24, 32],
      "MobilenetV1/Conv2d_1_pointwise": [2, 24, 24, 64],
      "MobilenetV1/Conv2d_6_pointwise": [2, 3, 3, 512],
      "MobilenetV1/Conv2d_13_pointwise": [2, 2, 2, 1024],
    ]
    XCTAssertEqual(Set(output.captured.keys), captureNames)
    for (name, tensor) in output.captured {
      XCTAssertEqual(tensor.shape, expectedShapes[name], name)
      assertRelativelyClose(tensor.values, reference.layers[name]!, name)
    }
    let last = reference.layers["MobilenetV1/Conv2d_13_pointwise"]!
    XCTAssertTrue(last.contains(0) && last.contains { $0 > 0 }, "activations must not die out")
  }

  func testPartialBatchGivesTheSameResultsAsTheFullBatch() throws {
    let imageSize = 64
    let model = try MobileNetV1(
      weights: Self.weights, batchSize: 3, threads: 2, imageSize: imageSize)
    let input = Self.images(count: 3, size: imageSize, seed: 2)
    let perImage = input.values.count / 3
    let captureName = "MobilenetV1/Conv2d_3_pointwise"
    let full = try model.forward(input, capture: [captureName])
    let firstTwo = try model.forward(
      HostTensor(
        shape: [2, imageSize, imageSize, 3], values: Array(input.values[0..<2 * perImage])))
    let last = try model.forward(
      HostTensor(
        shape: [1, imageSize, imageSize, 3], values: Array(input.values[(2 * perImage)...])),
      capture: [captureName])
    let classes = 1001
    XCTAssertEqual(firstTwo.probabilities.shape, [2, classes])
    XCTAssertEqual(last.probabilities.shape, [1, classes])
    // The convolutions and pooling compute each image the same way whatever the batch size.
    XCTAssertEqual(Array(full.features.values[0..<2048]), firstTwo.features.values, "images 0, 1")
    XCTAssertEqual(Array(full.features.values[2048...]), last.features.values, "image 2")
    let fullCapture = try XCTUnwrap(full.captured[captureName])
    let lastCapture = try XCTUnwrap(last.captured[captureName])
    XCTAssertEqual(fullCapture.shape, [3, 16, 16, 128])
    XCTAssertEqual(lastCapture.shape, [1, 16, 16, 128])
    XCTAssertEqual(Array(fullCapture.values[(2 * 16 * 16 * 128)...]), lastCapture.values)
    // The logits GEMM may order its 1024-term sums differently per batch size: float rounding.
    let batchOrderTolerance = 1e-5
    assertClose(
      firstTwo.logits.values, full.logits.values[0..<2 * classes].map(Double.init),
      tolerance: batchOrderTolerance, "logits of images 0, 1")
    assertClose(
      last.logits.values, full.logits.values[(2 * classes)...].map(Double.init),
      tolerance: batchOrderTolerance, "logits of image 2")
    // The full batch again after the partial ones: plans and shared buffers must not interfere.
    XCTAssertEqual(try model.forward(input, capture: [captureName]), full)
  }

  func testMissingGammaMeansScaleOne() throws {
    var withoutGamma = Self.weights
    var withOnes = Self.weights
    for name in MobileNetV1Architecture.optionalTensorNames {
      withoutGamma[name] = nil
      let shape = withOnes[name]!.shape
      withOnes[name] = HostTensor(shape: shape, values: [Float](repeating: 1, count: shape[0]))
    }
    let input = Self.images(count: 1, size: 32, seed: 3)
    let first = try MobileNetV1(weights: withoutGamma, batchSize: 1, threads: 1, imageSize: 32)
    let second = try MobileNetV1(weights: withOnes, batchSize: 1, threads: 1, imageSize: 32)
    XCTAssertEqual(try first.forward(input), try second.forward(input))
    let third = try MobileNetV1(weights: Self.weights, batchSize: 1, threads: 1, imageSize: 32)
    XCTAssertNotEqual(try first.forward(input).logits, try third.forward(input).logits)
  }

  func testFullSizeNetworkShapesAndCost() throws {
    let model = try MobileNetV1(weights: Self.weights, batchSize: 1, threads: 2)
    // TF-slim's published cost of MobileNet v1 1.0/224: 569 million multiply-adds.
    XCTAssertEqual((Double(model.multiplyAddsPerImage) / 1e6).rounded(), 569)
    let output = try model.forward(
      Self.images(count: 1, size: 224, seed: 4), capture: ["MobilenetV1/Conv2d_13_pointwise"])
    XCTAssertEqual(output.captured["MobilenetV1/Conv2d_13_pointwise"]?.shape, [1, 7, 7, 1024])
    XCTAssertEqual(output.probabilities.values.reduce(0, +), 1, accuracy: 1e-4)
  }

  func testTensorNamesAndShapesDescribeTheTFSlimModel() {
    let shapes = Dictionary(
      uniqueKeysWithValues: MobileNetV1Architecture.tensorShapes().map { ($0.name, $0.shape) })
    XCTAssertEqual(MobileNetV1Architecture.tensorShapes().count, 27 * 5 + 2)
    XCTAssertEqual(shapes.count, 27 * 5 + 2, "names are unique")
    XCTAssertEqual(shapes["MobilenetV1/Conv2d_0/weights"], [3, 3, 3, 32])
    XCTAssertEqual(shapes["MobilenetV1/Conv2d_12_depthwise/depthwise_weights"], [3, 3, 512, 1])
    XCTAssertEqual(shapes["MobilenetV1/Conv2d_13_pointwise/weights"], [1, 1, 1024, 1024])
    XCTAssertEqual(shapes["MobilenetV1/Logits/Conv2d_1c_1x1/weights"], [1, 1, 1024, 1001])
    XCTAssertEqual(MobileNetV1Architecture.layers.map(\.name).count, 27)
    XCTAssertEqual(
      MobileNetV1Architecture.layers.map(\.name).last, "MobilenetV1/Conv2d_13_pointwise")
  }

  // MARK: - Error paths

  func testMissingTensorIsNamed() {
    var weights = Self.weights
    weights["MobilenetV1/Conv2d_5_pointwise/weights"] = nil
    assertEngineError(.missingTensor, naming: "MobilenetV1/Conv2d_5_pointwise/weights") {
      _ = try MobileNetV1(weights: weights, batchSize: 1, threads: 1, imageSize: 32)
    }
  }

  func testWrongShapeIsNamed() {
    var weights = Self.weights
    weights["MobilenetV1/Logits/Conv2d_1c_1x1/biases"] = HostTensor(
      shape: [1000], values: [Float](repeating: 0, count: 1000))
    assertEngineError(.wrongShape, naming: "MobilenetV1/Logits/Conv2d_1c_1x1/biases") {
      _ = try MobileNetV1(weights: weights, batchSize: 1, threads: 1, imageSize: 32)
    }
  }

  func testMisspelledTensorIsNamed() {
    var weights = Self.weights
    let gamma = weights.removeValue(forKey: "MobilenetV1/Conv2d_0/BatchNorm/gamma")!
    // Without this check the misspelt gamma would silently be replaced by ones.
    weights["MobilenetV1/Conv2d_0/BatchNorm/gama"] = gamma
    assertEngineError(.unexpectedTensor, naming: "MobilenetV1/Conv2d_0/BatchNorm/gama") {
      _ = try MobileNetV1(weights: weights, batchSize: 1, threads: 1, imageSize: 32)
    }
  }

  func testInputOfWrongShapeOrBatchIsRejected() throws {
    let model = try MobileNetV1(weights: Self.weights, batchSize: 2, threads: 1, imageSize: 32)
    assertEngineError(.invalidInput, naming: "input") {
      _ = try model.forward(Self.images(count: 3, size: 32, seed: 5))
    }
    assertEngineError(.invalidInput, naming: "input") {
      _ = try model.forward(Self.images(count: 1, size: 33, seed: 5))
    }
    assertEngineError(.unknownLayer, naming: "MobilenetV1/Conv2d_14_pointwise") {
      _ = try model.forward(
        Self.images(count: 1, size: 32, seed: 5), capture: ["MobilenetV1/Conv2d_14_pointwise"])
    }
  }

  // MARK: - Helpers

  private func assertRelativelyClose(
    _ actual: [Float], _ expected: [Double], _ what: String, line: UInt = #line
  ) {
    let scale = max(1, expected.map(abs).max() ?? 0)
    assertClose(actual, expected, tolerance: relativeTolerance * scale, what, line: line)
  }

  private func assertEngineError(
    _ code: EngineError.Code, naming name: String, line: UInt = #line, _ body: () throws -> Void
  ) {
    do {
      try body()
      XCTFail("expected EngineError.\(code) naming \(name)", line: line)
    } catch let error as EngineError {
      XCTAssertEqual(error.code, code, "\(error)", line: line)
      XCTAssertEqual(error.layer, name, "\(error)", line: line)
      XCTAssertTrue(error.message.contains(name), "\(error)", line: line)
    } catch {
      XCTFail("unexpected error \(error)", line: line)
    }
  }
}
