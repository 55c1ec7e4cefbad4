import CDNNL
import DropnetArchitecture
import XCTest

@testable import DropnetEngine

/// Backward passes against central finite differences of the Double reference forward.
///
/// For a random diff destination dy, the loss L(x, w) = sum(dy * forward(x, w)) has gradients
/// dL/dx = backwardData(dy) and dL/dw = backwardWeights(x, dy); each is compared with
/// (L(x + h e_i) - L(x - h e_i)) / 2h computed entirely in Double.
final class GradientTests: XCTestCase {
  // Float backward (sums of a few dozen O(1) terms) vs Double differences with h = 1e-6, whose
  // own error is ~1e-9: float rounding dominates, well under 1e-3.
  let gradientTolerance = 1e-3
  let step = 1e-6

  func testConvolutionGradients() throws {
    let geometries = [
      // Stride 2 over an even size: TF SAME pads 0 before, 1 after.
      ConvolutionGeometry(
        batchSize: 2, inputChannels: 3, outputChannels: 4, inputHeight: 6, inputWidth: 5,
        kernelSize: 3, stride: 2),
      // Depthwise, stride 1.
      ConvolutionGeometry(
        batchSize: 2, inputChannels: 8, outputChannels: 8, inputHeight: 4, inputWidth: 4,
        kernelSize: 3, stride: 1, groups: 8),
      // Depthwise, stride 2 over an even size (MobileNet's Conv2d_2/4/6/12_depthwise).
      ConvolutionGeometry(
        batchSize: 2, inputChannels: 8, outputChannels: 8, inputHeight: 8, inputWidth: 8,
        kernelSize: 3, stride: 2, groups: 8),
      // Pointwise.
      ConvolutionGeometry(
        batchSize: 2, inputChannels: 8, outputChannels: 16, inputHeight: 3, inputWidth: 3,
        kernelSize: 1, stride: 1),
    ]
    for (index, geometry) in geometries.enumerated() {
      try checkConvolutionGradients(geometry, seed: UInt64(30 + index))
    }
  }

  func testReLU6Gradient() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 40)
    let dims = [2, 8, 3, 3]
    // Keep every input at least 0.05 from the kinks at 0 and 6, where the derivative jumps.
    let source = random.uniform(dims.reduce(1, *), in: -3...9).map { value -> Float in
      abs(value) < 0.05 || abs(value - 6) < 0.05 ? value + 0.2 : value
    }
    let diffDestination = random.uniform(source.count, in: -1...1)
    let layer = try ReLU6(
      dataLayout: .plain(dims), propagation: .training, engine: harness.engine, name: "relu6")
    try harness.prepare(layer)
    let diffSource = try harness.empty(.plain(dims))
    try layer.backward(
      source: harness.memory(source, layout: .plain(dims)),
      diffDestination: harness.memory(diffDestination, layout: .plain(dims)),
      diffSource: diffSource, engine: harness.engine)
    let dy = diffDestination.map(Double.init)
    let numerical = numericalGradient(at: source.map(Double.init)) { x in
      dot(dy, ReferenceMath.relu6(x))
    }
    XCTAssertTrue(numerical.contains(0) && numerical.contains { $0 != 0 })
    assertClose(
      try harness.plainValues(diffSource), numerical, tolerance: gradientTolerance, "relu6 dx")
  }

  func testAveragePoolingGradient() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 41)
    for (size, kernel, stride) in [(4, 2, 2), (3, 3, 1)] {
      let dims = [2, 8, size, size]
      let source = random.uniform(dims.reduce(1, *), in: -3...3)
      let layer = try Pooling(
        sourceLayout: MemoryDescriptor(dimensions: dims, format: dnnl_nChw8c),
        kernelSize: kernel, stride: stride, propagation: .training, engine: harness.engine,
        name: "pool")
      try harness.prepare(layer)
      let outputSize = (size - kernel) / stride + 1
      let diffDestination = random.uniform(2 * 8 * outputSize * outputSize, in: -1...1)
      let diffSource = try harness.empty(MemoryDescriptor(dimensions: dims, format: dnnl_nChw8c))
      try layer.backward(
        diffDestination: harness.memory(diffDestination, layout: layer.destinationDescriptor),
        diffSource: diffSource, engine: harness.engine)
      let dy = diffDestination.map(Double.init)
      let numerical = numericalGradient(at: source.map(Double.init)) { x in
        dot(
          dy,
          ReferenceMath.averagePoolNCHW(
            x, batchSize: 2, channels: 8, height: size, width: size, kernelSize: kernel,
            stride: stride))
      }
      assertClose(
        try harness.plainValues(diffSource), numerical, tolerance: gradientTolerance,
        "pool \(kernel)/\(stride) dx")
    }
  }

  func testInnerProductGradients() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 42)
    let (batchSize, inputCount, outputCount) = (3, 10, 4)
    let source = random.uniform(batchSize * inputCount, in: -2...2)
    let weights = random.uniform(outputCount * inputCount, in: -1...1)
    let bias = random.uniform(outputCount, in: -1...1)
    let diffDestination = random.uniform(batchSize * outputCount, in: -1...1)
    let sourceLayout = try MemoryDescriptor.plain([batchSize, inputCount])
    let layer = try InnerProduct(
      sourceLayout: sourceLayout, outputCount: outputCount, propagation: .training,
      engine: harness.engine, name: "ip")
    try harness.prepare(layer)
    let sourceMemory = try harness.memory(source, layout: sourceLayout)
    let weightsMemory = try harness.memory(weights, layout: layer.weightsDescriptor)
    let diffDestinationMemory = try harness.memory(
      diffDestination, layout: layer.destinationDescriptor)
    let diffSource = try harness.empty(sourceLayout)
    let diffWeights = try harness.empty(layer.weightsDescriptor)
    let diffBias = try harness.empty(layer.biasDescriptor)
    try layer.backwardData(
      diffDestination: diffDestinationMemory, weights: weightsMemory, diffSource: diffSource,
      engine: harness.engine)
    try layer.backwardWeights(
      source: sourceMemory, diffDestination: diffDestinationMemory, diffWeights: diffWeights,
      diffBias: diffBias, engine: harness.engine)

    let (x, w, b) = (source.map(Double.init), weights.map(Double.init), bias.map(Double.init))
    let dy = diffDestination.map(Double.init)
    func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
      dot(
        dy,
        ReferenceMath.innerProduct(
          x, batchSize: batchSize, inputCount: inputCount, weights: w, bias: b,
          outputCount: outputCount))
    }
    assertClose(
      try harness.plainValues(diffSource), numericalGradient(at: x) { loss($0, w, b) },
      tolerance: gradientTolerance, "ip dx")
    assertClose(
      try harness.plainValues(diffWeights), numericalGradient(at: w) { loss(x, $0, b) },
      tolerance: gradientTolerance, "ip dw")
    assertClose(
      try harness.plainValues(diffBias), numericalGradient(at: b) { loss(x, w, $0) },
      tolerance: gradientTolerance, "ip db")
  }

  func testBatchNormalizationTrainingGradients() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 43)
    let (batchSize, channels, height, width) = (3, 8, 2, 3)
    let dims = [batchSize, channels, height, width]
    let spatial = height * width
    let source = random.uniform(dims.reduce(1, *), in: -2...3)
    let gamma = random.uniform(channels, in: 0.5...1.5)
    let beta = random.uniform(channels, in: -0.5...0.5)
    let diffDestination = random.uniform(source.count, in: -1...1)
    let epsilon = 0.001
    // A blocked layout, as the network would use it.
    let layout = try MemoryDescriptor(dimensions: dims, format: dnnl_nChw8c)
    let layer = try BatchNormalization(
      dataLayout: layout, epsilon: Float(epsilon), propagation: .training,
      engine: harness.engine, name: "bn")
    try harness.prepare(layer)
    let parameters = layer.parameterDescriptor
    let sourceMemory = try harness.memory(source, layout: layout)
    let scaleMemory = try harness.memory(gamma, layout: parameters)
    let shiftMemory = try harness.memory(beta, layout: parameters)
    let destination = try harness.empty(layout)
    let batchMean = try harness.empty(parameters)
    let batchVariance = try harness.empty(parameters)
    try layer.forwardTraining(
      source: sourceMemory, scale: scaleMemory, shift: shiftMemory,
      destination: destination, batchMean: batchMean, batchVariance: batchVariance,
      engine: harness.engine)
    let diffSource = try harness.empty(layout)
    let diffScale = try harness.empty(parameters)
    let diffShift = try harness.empty(parameters)
    try layer.backward(
      source: sourceMemory, batchMean: batchMean, batchVariance: batchVariance,
      scale: scaleMemory, shift: shiftMemory,
      diffDestination: harness.memory(diffDestination, layout: layout),
      diffSource: diffSource, diffScale: diffScale, diffShift: diffShift, engine: harness.engine)

    func statistics(_ x: [Double]) -> (mean: [Double], variance: [Double]) {
      ReferenceMath.batchStatisticsNCHW(x, channels: channels, spatial: spatial)
    }
    let dy = diffDestination.map(Double.init)
    func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
      let (mean, variance) = statistics(x)
      let y = ReferenceMath.batchNormNCHW(
        x, channels: channels, spatial: spatial, gamma: g, beta: b, mean: mean,
        variance: variance, epsilon: epsilon)
      return dot(dy, y)
    }
    let (x, g, b) = (source.map(Double.init), gamma.map(Double.init), beta.map(Double.init))
    let (mean, variance) = statistics(x)
    assertClose(try harness.plainValues(batchMean), mean, tolerance: 1e-5, "batch mean")
    assertClose(
      try harness.plainValues(batchVariance), variance, tolerance: 1e-5, "batch variance")
    assertClose(
      try harness.plainValues(destination),
      ReferenceMath.batchNormNCHW(
        x, channels: channels, spatial: spatial, gamma: g, beta: b, mean: mean,
        variance: variance, epsilon: epsilon), tolerance: 1e-4, "bn training forward")
    assertClose(
      try harness.plainValues(diffSource), numericalGradient(at: x) { loss($0, g, b) },
      tolerance: gradientTolerance, "bn dx")
    assertClose(
      try harness.plainValues(diffScale), numericalGradient(at: g) { loss(x, $0, b) },
      tolerance: gradientTolerance, "bn dgamma")
    assertClose(
      try harness.plainValues(diffShift), numericalGradient(at: b) { loss(x, g, $0) },
      tolerance: gradientTolerance, "bn dbeta")
  }

  func testInferenceLayerRefusesBackward() throws {
    let harness = try LayerHarness()
    let layer = try ReLU6(dataLayout: .plain([1, 8, 2, 2]), engine: harness.engine, name: "relu6")
    let memory = try harness.empty(.plain([1, 8, 2, 2]))
    XCTAssertThrowsError(
      try layer.backward(
        source: memory, diffDestination: memory, diffSource: memory, engine: harness.engine)
    ) { error in
      XCTAssertEqual((error as? EngineError)?.code, .invalidConfiguration)
    }
  }

  // MARK: - Helpers

  private func checkConvolutionGradients(_ geometry: ConvolutionGeometry, seed: UInt64) throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: seed)
    let source = random.uniform(geometry.sourceDimensions.reduce(1, *), in: -2...2)
    let weights = random.uniform(geometry.weightsDimensions.reduce(1, *), in: -1...1)
    let bias = random.uniform(geometry.outputChannels, in: -1...1)
    let diffDestination = random.uniform(
      geometry.destinationDimensions.reduce(1, *), in: -1...1)
    let layer = try Convolution(
      geometry: geometry, fuseReLU6: false, propagation: .training, engine: harness.engine,
      name: "conv")
    try harness.prepare(layer)
    let sourceMemory = try harness.memory(source, layout: layer.sourceDescriptor)
    let weightsMemory = try harness.memory(weights, layout: layer.weightsDescriptor)
    let diffDestinationMemory = try harness.memory(
      diffDestination, layout: layer.destinationDescriptor)
    let diffSource = try harness.empty(layer.sourceDescriptor)
    let diffWeights = try harness.empty(layer.weightsDescriptor)
    let diffBias = try harness.empty(layer.biasDescriptor)
    try layer.backwardData(
      diffDestination: diffDestinationMemory, weights: weightsMemory, diffSource: diffSource,
      engine: harness.engine)
    try layer.backwardWeights(
      source: sourceMemory, diffDestination: diffDestinationMemory, diffWeights: diffWeights,
      diffBias: diffBias, engine: harness.engine)

    let (x, w, b) = (source.map(Double.init), weights.map(Double.init), bias.map(Double.init))
    let dy = diffDestination.map(Double.init)
    func loss(_ x: [Double], _ w: [Double], _ b: [Double]) -> Double {
      dot(
        dy,
        ReferenceMath.convolutionNCHW(
          input: x, batchSize: geometry.batchSize, channels: geometry.inputChannels,
          height: geometry.inputHeight, width: geometry.inputWidth, weights: w, bias: b,
          outputChannels: geometry.outputChannels, kernelSize: geometry.kernelSize,
          stride: geometry.stride, groups: geometry.groups, padTop: geometry.padding.before[0],
          padLeft: geometry.padding.before[1], outputHeight: geometry.outputHeight,
          outputWidth: geometry.outputWidth))
    }
    let what =
      "convolution \(geometry.kernelSize)x\(geometry.kernelSize)/\(geometry.stride) "
      + "groups \(geometry.groups)"
    assertClose(
      try harness.plainValues(diffSource), numericalGradient(at: x) { loss($0, w, b) },
      tolerance: gradientTolerance, what + " dx")
    assertClose(
      try harness.plainValues(diffWeights), numericalGradient(at: w) { loss(x, $0, b) },
      tolerance: gradientTolerance, what + " dw")
    assertClose(
      try harness.plainValues(diffBias), numericalGradient(at: b) { loss(x, w, $0) },
      tolerance: gradientTolerance, what + " db")
  }

  private func numericalGradient(at point: [Double], _ loss: ([Double]) -> Double) -> [Double] {
    ReferenceMath.centralDifferences(at: point, step: step, loss)
  }

  private func dot(_ lhs: [Double], _ rhs: [Double]) -> Double {
    zip(lhs, rhs).reduce(0) { $0 + $1.0 * $1.1 }
  }
}
