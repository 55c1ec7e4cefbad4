import CDNNL
import DropnetArchitecture
import XCTest

@testable import DropnetEngine

/// The fused training kernel (`BatchNormalizationReLU6`) against two independent
/// implementations: oneDNN's own batch norm and ReLU6 primitives run one after the other, and
/// central finite differences of a Double reference.
final class BatchNormalizationReLU6Tests: XCTestCase {
  // Float sums over a few thousand elements, compared with oneDNN's float sums in another
  // order: agreement to ~1e-6 relative, so 1e-4 absolute on O(1) values leaves a wide margin
  // yet catches any wrong term (they are O(0.1) or more).
  let valueTolerance = 1e-4
  // Parameter gradients are sums over every element (thousands of O(1) terms).
  let sumTolerance = 1e-3
  // Float kernel vs Double differences with h = 1e-6 on small sums, as in GradientTests.
  let gradientTolerance = 1e-3
  let step = 1e-6
  let epsilon: Float = 0.001

  /// Every layout the kernel reads, with a spatial size that is not a multiple of the
  /// kernel's 64-position chunk, and parameters that make ReLU6 clip at both ends.
  func testMatchesUnfusedOneDNNLayers() throws {
    let dims = [4, 32, 9, 11]
    for format in [dnnl_nChw8c, dnnl_nChw16c, dnnl_nchw, dnnl_nhwc] {
      let layout = try MemoryDescriptor(dimensions: dims, format: format)
      try compareWithOneDNN(layout: layout, seed: UInt64(format.rawValue))
    }
  }

  /// bfloat16 activations give what float32 gives on the same values, rounded once: the
  /// statistics and the gradients of gamma and beta bit for bit (the kernel widens bfloat16
  /// to float exactly and computes in float and double either way), z and dx to the nearest
  /// bfloat16 of the float32 results.
  func testBFloat16IsFloat32RoundedOnce() throws {
    let dims = [3, 32, 9, 11]
    for format in [dnnl_nChw16c, dnnl_nChw8c, dnnl_nhwc] {
      let harness = try LayerHarness()
      var random = SeededRandom(seed: UInt64(format.rawValue) + 7)
      let count = dims.reduce(1, *)
      let x = random.uniform(count, in: -2...3).map(Self.bfloat16)
      let dz = random.uniform(count, in: -1...1).map(Self.bfloat16)
      let gamma = random.uniform(dims[1], in: 1...3)
      let beta = random.uniform(dims[1], in: 0...6)
      let parameters = try MemoryDescriptor.plain([dims[1]])
      var results: [[[Float]]] = []
      for precision in [Precision.float32, .bfloat16] {
        let layout = try MemoryDescriptor(dimensions: dims, format: format, precision: precision)
        let layer = try BatchNormalizationReLU6(
          dataLayout: layout, epsilon: epsilon, threads: 2, name: "\(precision)")
        let (scale, shift) = (
          try harness.memory(gamma, layout: parameters),
          try harness.memory(beta, layout: parameters)
        )
        let (mean, variance) = (try harness.empty(parameters), try harness.empty(parameters))
        let source = try harness.memory(x, layout: layout)
        let z = try harness.empty(layout)
        try layer.forward(
          source: source, scale: scale, shift: shift, destination: z, batchMean: mean,
          batchVariance: variance, engine: harness.engine)
        let (diffX, diffScale, diffShift) = (
          try harness.empty(layout), try harness.empty(parameters), try harness.empty(parameters)
        )
        try layer.backward(
          source: source, batchMean: mean, batchVariance: variance, scale: scale, shift: shift,
          diffDestination: try harness.memory(dz, layout: layout), diffSource: diffX,
          diffScale: diffScale, diffShift: diffShift, engine: harness.engine)
        results.append(
          try [mean, variance, diffScale, diffShift, z, diffX].map { try harness.plainValues($0) })
      }
      let (float32, bfloat16) = (results[0], results[1])
      for (index, name) in ["mean", "variance", "dgamma", "dbeta"].enumerated() {
        XCTAssertEqual(bfloat16[index], float32[index], "\(name), \(format)")
      }
      XCTAssertEqual(bfloat16[4], float32[4].map(Self.bfloat16), "z, \(format)")
      XCTAssertEqual(bfloat16[5], float32[5].map(Self.bfloat16), "dx, \(format)")
      XCTAssertNotEqual(float32[4], float32[4].map(Self.bfloat16), "bfloat16 must round something")
    }
  }

  /// The nearest bfloat16 (ties to even), as a float.
  static func bfloat16(_ value: Float) -> Float {
    let bits = value.bitPattern
    let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
    return Float(bitPattern: rounded)
  }

  private func compareWithOneDNN(layout: MemoryDescriptor, seed: UInt64) throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: seed)
    let dims = layout.dimensions
    let channels = dims[1]
    let x = random.uniform(layout.elementCount, in: -2...3)
    let gamma = random.uniform(channels, in: 1...3)
    let beta = random.uniform(channels, in: 0...6)
    let dz = random.uniform(x.count, in: -1...1)
    let parameters = try MemoryDescriptor.plain([channels])

    // oneDNN: batch norm (training) into y, ReLU6 into z; backward through ReLU6, then BN.
    let batchNorm = try BatchNormalization(
      dataLayout: layout, epsilon: epsilon, propagation: .training, engine: harness.engine,
      name: "bn")
    let relu6 = try ReLU6(
      dataLayout: layout, propagation: .training, engine: harness.engine, name: "relu6")
    try harness.prepare(batchNorm)
    try harness.prepare(relu6)
    let source = try harness.memory(x, layout: layout)
    let scale = try harness.memory(gamma, layout: parameters)
    let shift = try harness.memory(beta, layout: parameters)
    let diffDestination = try harness.memory(dz, layout: layout)
    let (y, z) = (try harness.empty(layout), try harness.empty(layout))
    let (mean, variance) = (try harness.empty(parameters), try harness.empty(parameters))
    try batchNorm.forwardTraining(
      source: source, scale: scale, shift: shift, destination: y, batchMean: mean,
      batchVariance: variance, engine: harness.engine)
    try relu6.forward(source: y, destination: z, engine: harness.engine)
    let (diffY, diffX) = (try harness.empty(layout), try harness.empty(layout))
    let (diffScale, diffShift) = (try harness.empty(parameters), try harness.empty(parameters))
    try relu6.backward(
      source: y, diffDestination: diffDestination, diffSource: diffY, engine: harness.engine)
    try batchNorm.backward(
      source: source, batchMean: mean, batchVariance: variance, scale: scale, shift: shift,
      diffDestination: diffY, diffSource: diffX, diffScale: diffScale, diffShift: diffShift,
      engine: harness.engine)

    // Fused.
    let fused = try BatchNormalizationReLU6(
      dataLayout: layout, epsilon: epsilon, threads: 2, name: "fused")
    let fusedZ = try harness.empty(layout)
    let (fusedMean, fusedVariance) = (try harness.empty(parameters), try harness.empty(parameters))
    try fused.forward(
      source: source, scale: scale, shift: shift, destination: fusedZ, batchMean: fusedMean,
      batchVariance: fusedVariance, engine: harness.engine)
    let fusedDiffX = try harness.empty(layout)
    let (fusedDiffScale, fusedDiffShift) = (
      try harness.empty(parameters), try harness.empty(parameters)
    )
    try fused.backward(
      source: source, batchMean: fusedMean, batchVariance: fusedVariance, scale: scale,
      shift: shift, diffDestination: diffDestination, diffSource: fusedDiffX,
      diffScale: fusedDiffScale, diffShift: fusedDiffShift, engine: harness.engine)

    let expectedZ = try harness.plainValues(z).map(Double.init)
    XCTAssertTrue(expectedZ.contains(0) && expectedZ.contains(6), "data must reach both clips")
    let name = "layout \(seed)"
    func values(_ memory: Memory) throws -> [Double] {
      try harness.plainValues(memory).map(Double.init)
    }
    assertClose(
      try harness.plainValues(fusedMean), try values(mean), tolerance: valueTolerance,
      name + " mean")
    assertClose(
      try harness.plainValues(fusedVariance), try values(variance), tolerance: valueTolerance,
      name + " variance")
    assertClose(try harness.plainValues(fusedZ), expectedZ, tolerance: valueTolerance, name + " z")
    assertClose(
      try harness.plainValues(fusedDiffX), try values(diffX), tolerance: valueTolerance,
      name + " dx")
    assertClose(
      try harness.plainValues(fusedDiffScale), try values(diffScale), tolerance: sumTolerance,
      name + " dgamma")
    assertClose(
      try harness.plainValues(fusedDiffShift), try values(diffShift), tolerance: sumTolerance,
      name + " dbeta")
  }

  /// dx, dgamma and dbeta against central differences of sum(dz * relu6(bn(x))) in Double,
  /// batch statistics included (they depend on x too).
  func testGradientsMatchFiniteDifferences() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 61)
    let (batchSize, channels, height, width) = (3, 8, 2, 3)
    let dims = [batchSize, channels, height, width]
    let spatial = height * width
    let layout = try MemoryDescriptor(dimensions: dims, format: dnnl_nChw8c)
    let parameters = try MemoryDescriptor.plain([channels])
    let source = random.uniform(dims.reduce(1, *), in: -2...3)
    let gamma = random.uniform(channels, in: 1...3)
    let beta = random.uniform(channels, in: 1...5)
    let diffDestination = random.uniform(source.count, in: -1...1)

    func normalized(_ x: [Double], _ g: [Double], _ b: [Double]) -> [Double] {
      let (mean, variance) = ReferenceMath.batchStatisticsNCHW(
        x, channels: channels, spatial: spatial)
      return ReferenceMath.batchNormNCHW(
        x, channels: channels, spatial: spatial, gamma: g, beta: b, mean: mean,
        variance: variance, epsilon: Double(epsilon))
    }
    let dz = diffDestination.map(Double.init)
    func loss(_ x: [Double], _ g: [Double], _ b: [Double]) -> Double {
      zip(dz, ReferenceMath.relu6(normalized(x, g, b))).reduce(0) { $0 + $1.0 * $1.1 }
    }
    let (x, g, b) = (source.map(Double.init), gamma.map(Double.init), beta.map(Double.init))
    let y = normalized(x, g, b)
    // Differences across a kink of ReLU6 are meaningless: the data must keep clear of both.
    let clearance = y.map { min(abs($0), abs($0 - 6)) }.min()!
    XCTAssertGreaterThan(clearance, 1e-3, "an input sits on a ReLU6 kink; change the seed")
    XCTAssertTrue(y.contains { $0 < 0 } && y.contains { $0 > 6 }, "both clips must be hit")

    let layer = try BatchNormalizationReLU6(
      dataLayout: layout, epsilon: epsilon, threads: 1, name: "fused")
    let sourceMemory = try harness.memory(source, layout: layout)
    let scale = try harness.memory(gamma, layout: parameters)
    let shift = try harness.memory(beta, layout: parameters)
    let (z, mean, variance) = (
      try harness.empty(layout), try harness.empty(parameters), try harness.empty(parameters)
    )
    try layer.forward(
      source: sourceMemory, scale: scale, shift: shift, destination: z, batchMean: mean,
      batchVariance: variance, engine: harness.engine)
    let (diffSource, diffScale, diffShift) = (
      try harness.empty(layout), try harness.empty(parameters), try harness.empty(parameters)
    )
    try layer.backward(
      source: sourceMemory, batchMean: mean, batchVariance: variance, scale: scale, shift: shift,
      diffDestination: harness.memory(diffDestination, layout: layout), diffSource: diffSource,
      diffScale: diffScale, diffShift: diffShift, engine: harness.engine)

    assertClose(
      try harness.plainValues(z), ReferenceMath.relu6(y), tolerance: 1e-5, "fused forward")
    assertClose(
      try harness.plainValues(diffSource), numericalGradient(at: x) { loss($0, g, b) },
      tolerance: gradientTolerance, "fused dx")
    assertClose(
      try harness.plainValues(diffScale), numericalGradient(at: g) { loss(x, $0, b) },
      tolerance: gradientTolerance, "fused dgamma")
    assertClose(
      try harness.plainValues(diffShift), numericalGradient(at: b) { loss(x, g, $0) },
      tolerance: gradientTolerance, "fused dbeta")
  }

  /// A channel whose mean is 1000 times its spread: a plain one-pass E[x^2] - E[x]^2 in
  /// float loses every digit of the variance there; the kernel's shifted sums must not.
  func testVarianceStaysAccurateFarFromZero() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 62)
    let dims = [8, 16, 16, 16]
    let layout = try MemoryDescriptor(dimensions: dims, format: dnnl_nChw8c)
    let parameters = try MemoryDescriptor.plain([16])
    let x = random.uniform(layout.elementCount, in: -1...1).map { 1000 + $0 }
    let layer = try BatchNormalizationReLU6(
      dataLayout: layout, epsilon: epsilon, threads: 2, name: "fused")
    let (z, mean, variance) = (
      try harness.empty(layout), try harness.empty(parameters), try harness.empty(parameters)
    )
    try layer.forward(
      source: harness.memory(x, layout: layout),
      scale: harness.memory([Float](repeating: 1, count: 16), layout: parameters),
      shift: harness.memory([Float](repeating: 3, count: 16), layout: parameters),
      destination: z, batchMean: mean, batchVariance: variance, engine: harness.engine)
    let (expectedMean, expectedVariance) = ReferenceMath.batchStatisticsNCHW(
      x.map(Double.init), channels: 16, spatial: 256)
    assertClose(try harness.plainValues(mean), expectedMean, tolerance: 1e-3, "mean")
    // The variance is ~1/3; 1e-4 is 0.03% of it.
    assertClose(try harness.plainValues(variance), expectedVariance, tolerance: 1e-4, "variance")
  }

  /// Each channel block is reduced by one thread in a fixed order, so the thread count must
  /// not change a single bit (training is deterministic on any thread count).
  func testThreadCountDoesNotChangeResults() throws {
    let harness = try LayerHarness()
    var random = SeededRandom(seed: 63)
    let dims = [6, 64, 12, 12]
    let layout = try MemoryDescriptor(dimensions: dims, format: dnnl_nChw8c)
    let parameters = try MemoryDescriptor.plain([64])
    let source = try harness.memory(random.uniform(layout.elementCount, in: -2...3), layout: layout)
    let scale = try harness.memory(random.uniform(64, in: 1...3), layout: parameters)
    let shift = try harness.memory(random.uniform(64, in: 0...6), layout: parameters)
    let diffDestination = try harness.memory(
      random.uniform(layout.elementCount, in: -1...1), layout: layout)
    var outputs: [[[Float]]] = []
    for threads in [1, 2, 3] {
      let layer = try BatchNormalizationReLU6(
        dataLayout: layout, epsilon: epsilon, threads: threads, name: "fused")
      let memories = try (0..<3).map { _ in try harness.empty(layout) }
      let statistics = try (0..<4).map { _ in try harness.empty(parameters) }
      try layer.forward(
        source: source, scale: scale, shift: shift, destination: memories[0],
        batchMean: statistics[0], batchVariance: statistics[1], engine: harness.engine)
      try layer.backward(
        source: source, batchMean: statistics[0], batchVariance: statistics[1], scale: scale,
        shift: shift, diffDestination: diffDestination, diffSource: memories[1],
        diffScale: statistics[2], diffShift: statistics[3], engine: harness.engine)
      outputs.append(try (memories.prefix(2) + statistics).map { try harness.plainValues($0) })
    }
    XCTAssertEqual(outputs[0], outputs[1], "1 vs 2 threads")
    XCTAssertEqual(outputs[0], outputs[2], "1 vs 3 threads")
  }

  /// Layouts the kernel cannot read are refused when the layer is made, naming the problem.
  func testRefusesPaddedChannels() throws {
    // 12 channels in blocks of 8: oneDNN pads to 16.
    let padded = try MemoryDescriptor(dimensions: [2, 12, 4, 4], format: dnnl_nChw8c)
    XCTAssertThrowsError(
      try BatchNormalizationReLU6(dataLayout: padded, epsilon: epsilon, threads: 1, name: "bn")
    ) { error in
      XCTAssertEqual((error as? EngineError)?.code, .invalidConfiguration)
      XCTAssertTrue("\(error)".contains("multiple of the block"), "\(error)")
    }
    let plain = try MemoryDescriptor(dimensions: [2, 12, 4, 4], format: dnnl_nchw)
    XCTAssertNoThrow(
      try BatchNormalizationReLU6(dataLayout: plain, epsilon: epsilon, threads: 1, name: "bn"))
  }

  private func numericalGradient(at point: [Double], _ loss: ([Double]) -> Double) -> [Double] {
    ReferenceMath.centralDifferences(at: point, step: step, loss)
  }
}
