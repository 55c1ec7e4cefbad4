import DropnetArchitecture

#if canImport(Glibc)
  import Glibc
#endif

/// Whether bfloat16 pays on this CPU, measured: a CPU may report native bfloat16 dot products
/// (AVX-512 BF16) and still run oneDNN's bfloat16 convolutions slower than its float32 ones
/// (measured on an Intel Xeon with AVX-512 BF16: 0.55x; on AMD Zen 4, 2-4x faster). Times one
/// MobileNet-sized 1x1 convolution (256 -> 256 channels at 28x28, batch 16) in each precision,
/// once per process (about 0.1 s).
enum PrecisionCalibration {
  /// bfloat16's speed over float32's on this CPU (1 where the CPU has no native bfloat16).
  static let bfloat16Speedup: Double = {
    guard CPUEngine.hasNativeBFloat16 else { return 1 }
    return (try? measure()) ?? 1
  }()

  private static func measure() throws -> Double {
    let engine = try CPUEngine()
    let geometry = ConvolutionGeometry(
      batchSize: 16, inputChannels: 256, outputChannels: 256, inputHeight: 28, inputWidth: 28,
      kernelSize: 1, stride: 1)
    var seconds: [Precision: Double] = [:]
    for precision in [Precision.float32, .bfloat16] {
      let convolution = try Convolution(
        geometry: geometry, fuseReLU6: true, precision: precision, engine: engine,
        name: "calibration")
      let scratchpad = UnsafeMutableRawPointer.allocate(
        byteCount: max(convolution.scratchpadByteCount, 64), alignment: 64)
      defer { scratchpad.deallocate() }
      try convolution.bindScratchpad(scratchpad)
      let source = try Memory(descriptor: convolution.sourceDescriptor, engine: engine)
      let weights = try Memory(descriptor: convolution.weightsDescriptor, engine: engine)
      let bias = try Memory(descriptor: convolution.biasDescriptor, engine: engine)
      let destination = try Memory(descriptor: convolution.destinationDescriptor, engine: engine)
      for memory in [source, weights, bias, destination] {
        if let handle = memory.dataHandle { memset(handle, 0, memory.descriptor.byteCount) }
      }
      func run() throws {
        try convolution.forward(
          source: source, weights: weights, bias: bias, destination: destination,
          engine: engine)
        try engine.wait()
      }
      try run()
      let clock = ContinuousClock()
      var best = Double.infinity
      for _ in 0..<5 {
        let start = clock.now
        try run()
        let elapsed = clock.now - start
        let (whole, fraction) = elapsed.components
        best = min(best, Double(whole) + Double(fraction) / 1e18)
      }
      seconds[precision] = best
    }
    return seconds[.float32]! / seconds[.bfloat16]!
  }
}
