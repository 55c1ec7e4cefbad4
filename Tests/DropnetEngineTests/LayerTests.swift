import CDNNL
import DropnetArchitecture
import XCTest

@testable import DropnetEngine

/// Each layer's forward against the naive Double reference on small random shapes.
final class LayerTests: XCTestCase {
  // fp32 accumulation of at most a few hundred terms of magnitude <= 3: ~1e-6 relative error
  // per term, so 1e-4 absolute leaves ample margin while any indexing mistake is O(1).
  let convolutionTolerance = 1e-4
  // One multiply-add per element after a rsqrt: float rounding only.
  let elementwiseTolerance = 1e-5

  func testTensorFlowSamePaddingIsAsymmetricForStrideTwoOverEvenSizes() {
    let even = Padding.tensorFlowSame(inputHeight: 224, inputWidth: 112, kernelSize: 3, stride: 2)
    XCTAssertEqual(even, Padding(before: [0, 0], after: [1, 1]))
    let odd = Padding.tensorFlowSame(inputHeight: 7, inputWidth: 5, kernelSize: 3, stride: 2)
    XCTAssertEqual(odd, Padding(before: [1, 1], after: [1, 1]))
    let strideOne = Padding.tensorFlowSame(
      inputHeight: 14, inputWidth: 14, kernelSize: 3, stride: 1)
    XCTAssertEqual(strideOne, Padding(before: [1, 1], after: [1, 1]))
    let pointwise = Padding.tensorFlowSame(inputHeight: 7, inputWidth: 7, kernelSize: 1, stride: 1)
    XCTAssertEqual(pointwise, Padding(before: [0, 0], after: [0, 0]))
    let geometry = ConvolutionGeometry(
      batchSize: 1, inputChannels: 3, outputChannels: 32, inputHeight: 224, inputWidth: 224,
      kernelSize: 3, stride: 2)
    XCTAssertEqual([geometry.outputHeight, geometry.outputWidth], [112, 112])
  }

  func testConvolution3x3StrideOne() throws {
    try checkConvolution(
      ConvolutionGeometry(
        batchSize: 2, inputChannels: 5, outputChannels: 7, inputHeight: 9, inputWidth: 8,
        kernelSize: 3, stride: 1), seed: 1)
  }

  func testConvolution3x3StrideTwoWithAsymmetricPadding() throws {
    // Height 10 (even): pad 0 top, 1 bottom. Width 9 (odd): pad 1 left, 1 right.
    let geometry = ConvolutionGeometry(
      batchSize: 2, inputChannels: 3, outputChannels: 16, inputHeight: 10, inputWidth: 9,
      kernelSize: 3, stride: 2)
    XCTAssertEqual(geometry.padding, Padding(before: [0, 1], after: [1, 1]))
    try checkConvolution(geometry, seed: 2)
  }

  func testDepthwiseConvolution() throws {
    for stride in [1, 2] {
      try checkConvolution(
        ConvolutionGeometry(
          batchSize: 2, inputChannels: 16, outputChannels: 16, inputHeight: 8, inputWidth: 8,
          kernelSize: 3, stride: stride, groups: 16), seed: UInt64(10 + stride))
    }
  }

  func testPointwiseConvolution() throws {
    try checkConvolution(
      ConvolutionGeometry(
        batchSize: 3, inputChannels: 24, outputChannels: 40, inputHeight: 5, inputWidth: 5,
        kernelSize: 1, stride: 1), seed: 4)
  }

  func testBatchNormalizationInference() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 5)
    let dims = [2, 8, 3, 4]
    let data = random.uniform(dims.reduce(1, *), in: -3...3)
    let gamma = random.uniform(8, in: 0.5...1.5)
    let beta = random.uniform(8, in: -0.5...0.5)
    let mean = random.uniform(8, in: -0.5...0.5)
    let variance = random.uniform(8, in: 0.1...2)
    let layer = try BatchNormalization(
      dataLayout: .plain(dims), epsilon: 0.001, engine: harness.engine, name: "bn")
    try harness.prepare(layer)
    let parameters = layer.parameterDescriptor
    let destination = try harness.empty(layer.destinationDescriptor)
    try layer.forward(
      source: harness.memory(data, layout: .plain(dims)),
      mean: harness.memory(mean, layout: parameters),
      variance: harness.memory(variance, layout: parameters),
      scale: harness.memory(gamma, layout: parameters),
      shift: harness.memory(beta, layout: parameters), destination: destination,
      engine: harness.engine)
    let expected = ReferenceMath.batchNormNCHW(
      data.map(Double.init), channels: 8, spatial: 12, gamma: gamma.map(Double.init),
      beta: beta.map(Double.init), mean: mean.map(Double.init),
      variance: variance.map(Double.init), epsilon: 0.001)
    assertClose(
      try harness.plainValues(destination), expected, tolerance: elementwiseTolerance, "bn")
  }

  func testReLU6ClipsToZeroAndSix() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 6)
    let dims = [2, 8, 4, 4]
    let data = random.uniform(dims.reduce(1, *), in: -10...10)
    XCTAssertTrue(data.contains { $0 < 0 } && data.contains { $0 > 6 })
    let layer = try ReLU6(dataLayout: .plain(dims), engine: harness.engine, name: "relu6")
    try harness.prepare(layer)
    let destination = try harness.empty(.plain(dims))
    try layer.forward(
      source: harness.memory(data, layout: .plain(dims)), destination: destination,
      engine: harness.engine)
    assertClose(
      try harness.plainValues(destination), ReferenceMath.relu6(data.map(Double.init)),
      tolerance: 0, "relu6")
  }

  /// Folding BN into the weights and fusing ReLU6 as a post-op must equal conv -> BN -> ReLU6
  /// run as three oneDNN primitives, and both must equal the Double reference.
  func testFoldedBatchNormAndFusedReLU6MatchUnfusedLayers() throws {
    for kind in [MobileNetV1Architecture.Layer.Kind.standard, .depthwise, .pointwise] {
      try checkFolding(kind: kind)
    }
  }

  func testAveragePooling() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 7)
    for (size, kernel, stride) in [(5, 5, 1), (6, 2, 2)] {
      let dims = [2, 16, size, size]
      let data = random.uniform(dims.reduce(1, *), in: -3...3)
      // A blocked source, as the network feeds it, to exercise the layout path.
      let source = try harness.memory(
        data, layout: MemoryDescriptor(dimensions: dims, format: dnnl_nChw8c))
      let layer = try Pooling(
        sourceLayout: source.descriptor, kernelSize: kernel, stride: stride,
        engine: harness.engine, name: "pool")
      try harness.prepare(layer)
      let destination = try harness.empty(layer.destinationDescriptor)
      try layer.forward(source: source, destination: destination, engine: harness.engine)
      let expected = ReferenceMath.averagePoolNCHW(
        data.map(Double.init), batchSize: 2, channels: 16, height: size, width: size,
        kernelSize: kernel, stride: stride)
      assertClose(
        try harness.plainValues(destination), expected, tolerance: elementwiseTolerance,
        "pool \(kernel)x\(kernel)/\(stride)")
    }
  }

  func testInnerProductOverOneByOneFeatureMap() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 8)
    let (batchSize, inputCount, outputCount) = (3, 64, 11)
    let input = random.uniform(batchSize * inputCount, in: 0...6)
    let weights = random.uniform(outputCount * inputCount, in: -0.5...0.5)
    let bias = random.uniform(outputCount, in: -1...1)
    let sourceLayout = try MemoryDescriptor.plain([batchSize, inputCount, 1, 1])
    let layer = try InnerProduct(
      sourceLayout: sourceLayout, outputCount: outputCount, engine: harness.engine, name: "ip")
    try harness.prepare(layer)
    let destination = try harness.empty(layer.destinationDescriptor)
    try layer.forward(
      source: harness.memory(input, layout: sourceLayout),
      weights: harness.memory(weights, layout: layer.weightsDescriptor),
      bias: harness.memory(bias, layout: layer.biasDescriptor), destination: destination,
      engine: harness.engine)
    let expected = ReferenceMath.innerProduct(
      input.map(Double.init), batchSize: batchSize, inputCount: inputCount,
      weights: weights.map(Double.init), bias: bias.map(Double.init), outputCount: outputCount)
    assertClose(
      try harness.plainValues(destination), expected, tolerance: convolutionTolerance, "ip")
  }

  func testSoftmaxIsStableForLargeLogits() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 9)
    let (batchSize, classCount) = (3, 17)
    var logits = random.uniform(batchSize * classCount, in: -5...5)
    // exp(1000) overflows float: only a max-subtracting softmax survives this row.
    for index in classCount..<2 * classCount { logits[index] += 1000 }
    let layer = try Softmax(
      batchSize: batchSize, classCount: classCount, engine: harness.engine, name: "softmax")
    try harness.prepare(layer)
    let layout = try MemoryDescriptor.plain([batchSize, classCount])
    let destination = try harness.empty(layout)
    try layer.forward(
      source: harness.memory(logits, layout: layout), destination: destination,
      engine: harness.engine)
    let expected = ReferenceMath.softmaxRows(logits.map(Double.init), columns: classCount)
    assertClose(
      try harness.plainValues(destination), expected, tolerance: elementwiseTolerance, "softmax")
  }

  // MARK: - Helpers

  private func checkConvolution(_ geometry: ConvolutionGeometry, seed: UInt64) throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: seed)
    let input = random.uniform(geometry.sourceDimensions.reduce(1, *), in: -3...3)
    let weights = random.uniform(geometry.weightsDimensions.reduce(1, *), in: -1...1)
    let bias = random.uniform(geometry.outputChannels, in: -1...1)
    let layer = try Convolution(
      geometry: geometry, fuseReLU6: false, engine: harness.engine, name: "conv")
    try harness.prepare(layer)
    let destination = try harness.empty(layer.destinationDescriptor)
    try layer.forward(
      source: harness.memory(input, layout: layer.sourceDescriptor),
      weights: harness.memory(weights, layout: layer.weightsDescriptor),
      bias: harness.memory(bias, layout: layer.biasDescriptor), destination: destination,
      engine: harness.engine)
    let expected = ReferenceMath.convolutionNCHW(
      input: input.map(Double.init), batchSize: geometry.batchSize,
      channels: geometry.inputChannels, height: geometry.inputHeight,
      width: geometry.inputWidth, weights: weights.map(Double.init), bias: bias.map(Double.init),
      outputChannels: geometry.outputChannels, kernelSize: geometry.kernelSize,
      stride: geometry.stride, groups: geometry.groups, padTop: geometry.padding.before[0],
      padLeft: geometry.padding.before[1], outputHeight: geometry.outputHeight,
      outputWidth: geometry.outputWidth)
    assertClose(
      try harness.plainValues(destination), expected, tolerance: convolutionTolerance,
      "convolution \(geometry)")
  }

  private func checkFolding(kind: MobileNetV1Architecture.Layer.Kind) throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 20)
    let channels = 8
    let outputChannels = kind == .depthwise ? channels : 12
    let layer = MobileNetV1Architecture.Layer(
      name: "test", kind: kind, inputChannels: channels, outputChannels: outputChannels,
      stride: 2)
    // TF-layout weights and BN statistics, as a checkpoint holds them.
    let tfWeights = random.uniform(layer.weightsShape.reduce(1, *), in: -1...1)
    let gamma = random.uniform(outputChannels, in: 0.5...1.5)
    let beta = random.uniform(outputChannels, in: -0.5...0.5)
    let mean = random.uniform(outputChannels, in: -0.5...0.5)
    let variance = random.uniform(outputChannels, in: 0.1...2)
    let tensors: [String: HostTensor] = [
      layer.weightsName: HostTensor(shape: layer.weightsShape, values: tfWeights),
      layer.gammaName: HostTensor(shape: [outputChannels], values: gamma),
      layer.betaName: HostTensor(shape: [outputChannels], values: beta),
      layer.meanName: HostTensor(shape: [outputChannels], values: mean),
      layer.varianceName: HostTensor(shape: [outputChannels], values: variance),
    ]
    let epsilon = 0.001
    let folded = FoldedConvolution(layer: layer, tensors: tensors, epsilon: epsilon)
    let geometry = ConvolutionGeometry(
      batchSize: 2, inputChannels: channels, outputChannels: outputChannels, inputHeight: 6,
      inputWidth: 6, kernelSize: layer.kernelSize, stride: layer.stride, groups: layer.groups)
    let input = random.uniform(geometry.sourceDimensions.reduce(1, *), in: -3...3)

    // Fused: one convolution with folded weights and the ReLU6 post-op.
    let fused = try Convolution(
      geometry: geometry, fuseReLU6: true, engine: harness.engine, name: "fused")
    try harness.prepare(fused)
    let fusedOutput = try harness.empty(fused.destinationDescriptor)
    try fused.forward(
      source: harness.memory(input, layout: fused.sourceDescriptor),
      weights: harness.memory(folded.weights, layout: fused.weightsDescriptor),
      bias: harness.memory(folded.bias, layout: fused.biasDescriptor), destination: fusedOutput,
      engine: harness.engine)

    // Unfused: convolution with the raw weights (no bias), BN primitive, ReLU6 primitive.
    let rawWeights = reference(tfWeights: tfWeights, layer: layer)
    let plain = try Convolution(
      geometry: geometry, fuseReLU6: false, engine: harness.engine, name: "plain")
    try harness.prepare(plain)
    let convolutionOutput = try harness.empty(plain.destinationDescriptor)
    try plain.forward(
      source: harness.memory(input, layout: plain.sourceDescriptor),
      weights: harness.memory(rawWeights.map { Float($0) }, layout: plain.weightsDescriptor),
      bias: harness.memory(
        [Float](repeating: 0, count: outputChannels), layout: plain.biasDescriptor),
      destination: convolutionOutput, engine: harness.engine)
    let batchNorm = try BatchNormalization(
      dataLayout: convolutionOutput.descriptor, epsilon: Float(epsilon), engine: harness.engine,
      name: "bn")
    let relu6 = try ReLU6(
      dataLayout: convolutionOutput.descriptor, engine: harness.engine, name: "relu6")
    try harness.prepare(batchNorm)
    try harness.prepare(relu6)
    let normalized = try harness.empty(batchNorm.destinationDescriptor)
    let parameters = batchNorm.parameterDescriptor
    try batchNorm.forward(
      source: convolutionOutput, mean: harness.memory(mean, layout: parameters),
      variance: harness.memory(variance, layout: parameters),
      scale: harness.memory(gamma, layout: parameters),
      shift: harness.memory(beta, layout: parameters), destination: normalized,
      engine: harness.engine)
    try relu6.forward(source: normalized, destination: normalized, engine: harness.engine)

    let convolution = ReferenceMath.convolutionNCHW(
      input: input.map(Double.init), batchSize: 2, channels: channels, height: 6, width: 6,
      weights: rawWeights, bias: [Double](repeating: 0, count: outputChannels),
      outputChannels: outputChannels, kernelSize: layer.kernelSize, stride: layer.stride,
      groups: layer.groups, padTop: geometry.padding.before[0],
      padLeft: geometry.padding.before[1], outputHeight: geometry.outputHeight,
      outputWidth: geometry.outputWidth)
    let expected = ReferenceMath.relu6(
      ReferenceMath.batchNormNCHW(
        convolution, channels: outputChannels,
        spatial: geometry.outputHeight * geometry.outputWidth, gamma: gamma.map(Double.init),
        beta: beta.map(Double.init), mean: mean.map(Double.init),
        variance: variance.map(Double.init), epsilon: epsilon))
    XCTAssertTrue(expected.contains(0) && expected.contains(6), "data must reach both clips")
    assertClose(
      try harness.plainValues(fusedOutput), expected, tolerance: convolutionTolerance,
      "folded \(kind)")
    assertClose(
      try harness.plainValues(normalized), expected, tolerance: convolutionTolerance,
      "unfused \(kind)")
  }

  /// TF-layout weights (HWIO, or H W C 1) as Double [O, C/G, K, K] for the reference.
  private func reference(tfWeights: [Float], layer: MobileNetV1Architecture.Layer) -> [Double] {
    let kernel = layer.kernelSize
    let inputPerGroup = layer.inputChannels / layer.groups
    var result = [Double](repeating: 0, count: tfWeights.count)
    for output in 0..<layer.outputChannels {
      for input in 0..<inputPerGroup {
        for row in 0..<kernel {
          for column in 0..<kernel {
            let tfIndex =
              layer.kind == .depthwise
              ? (row * kernel + column) * layer.inputChannels + output
              : ((row * kernel + column) * layer.inputChannels + input) * layer.outputChannels
                + output
            result[((output * inputPerGroup + input) * kernel + row) * kernel + column] =
              Double(tfWeights[tfIndex])
          }
        }
      }
    }
    return result
  }
}
