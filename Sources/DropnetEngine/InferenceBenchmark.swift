import CDNNL
import DropnetArchitecture

#if canImport(Glibc)
  import Glibc
#endif

/// Measures MobileNetV1 inference speed against the machine's SGEMM peak.
///
/// Weights are random (the cost of the network does not depend on their values); every timed
/// run follows untimed warm-up passes that create the primitives and fault in the buffers.
public struct InferenceBenchmark: Sendable {
  /// What to measure.
  public struct Configuration: Codable, Sendable {
    /// Batch sizes to time (each gets its own network).
    public var batchSizes: [Int]
    /// OpenMP thread counts to time.
    public var threadCounts: [Int]
    /// Number formats to time (`Precision` raw values).
    public var precisions: [String]
    /// Untimed forward passes before timing.
    public var warmUpPasses: Int
    /// Each timing runs at least this many passes and at least `minimumSeconds`.
    public var minimumPasses: Int
    public var minimumSeconds: Double
    /// Square SGEMM size for the peak (1024: large enough to be compute bound).
    public var sgemmSize: Int
    /// Timed SGEMM repetitions per thread count.
    public var sgemmRepetitions: Int

    /// The defaults: batch 1, 16, 32 on 1 and 2 threads.
    public init(
      batchSizes: [Int] = [1, 16, 32], threadCounts: [Int] = [1, 2],
      precisions: [Precision] = [.float32], warmUpPasses: Int = 2, minimumPasses: Int = 3,
      minimumSeconds: Double = 2, sgemmSize: Int = 1024, sgemmRepetitions: Int = 20
    ) {
      self.batchSizes = batchSizes
      self.threadCounts = threadCounts
      self.precisions = precisions.map(\.rawValue)
      self.warmUpPasses = warmUpPasses
      self.minimumPasses = minimumPasses
      self.minimumSeconds = minimumSeconds
      self.sgemmSize = sgemmSize
      self.sgemmRepetitions = sgemmRepetitions
    }
  }

  /// SGEMM throughput on one thread count: the attainable peak to compare against.
  public struct PeakMeasurement: Codable, Sendable {
    public var threads: Int
    public var matrixSize: Int
    public var gflopsPerSecond: Double
  }

  /// One batch size on one thread count in one precision.
  public struct Measurement: Codable, Sendable {
    public var batchSize: Int
    public var threads: Int
    public var precision: String
    /// Timed forward passes.
    public var passes: Int
    public var imagesPerSecond: Double
    public var millisecondsPerImage: Double
    /// Milliseconds per forward pass (the latency of a whole batch).
    public var millisecondsPerBatch: Double
    /// Network FLOPs (2 per multiply-add) per second.
    public var gflopsPerSecond: Double
    /// `gflopsPerSecond` over the SGEMM peak at the same thread count.
    public var fractionOfPeak: Double
    /// CPU time of the whole process (all threads, spin-waiting included) per image: close to
    /// the unloaded wall time for one thread when other processes compete for the cores.
    public var cpuMillisecondsPerImage: Double
    /// Peak resident memory while this network was built and run, if measurable.
    public var peakResidentBytes: Int?
  }

  /// Everything measured.
  public struct Result: Codable, Sendable {
    public var configuration: Configuration
    /// Multiply-adds per 224x224 image, counted from the layer shapes.
    public var multiplyAddsPerImage: Int
    public var peaks: [PeakMeasurement]
    public var measurements: [Measurement]
    /// Peak resident memory of the whole process (VmHWM) at the end, if measurable.
    public var processPeakResidentBytes: Int?
    /// oneDNN's kernel per primitive of the last network measured ("ref" means unoptimized).
    public var implementations: [String: String]
    /// OMP_WAIT_POLICY as the OpenMP runtime read it at start-up (nil: unset, i.e. spinning).
    /// On a 2-core machine shared with other work, PASSIVE avoids threads spinning at every
    /// layer's barrier while their partner waits for a time slice.
    public var openMPWaitPolicy: String?
  }

  public var configuration: Configuration

  /// Creates a benchmark.
  public init(configuration: Configuration = Configuration()) {
    self.configuration = configuration
  }

  /// Runs every measurement; `progress` gets a line per finished step.
  public func run(progress: (String) -> Void = { _ in }) throws -> Result {
    let weights = InferenceBenchmark.randomWeights()
    var peaks: [PeakMeasurement] = []
    for threads in configuration.threadCounts {
      let peak = try sgemmPeak(threads: threads)
      progress("sgemm \(configuration.sgemmSize)^3, \(threads) threads: \(peak) GFLOP/s")
      peaks.append(
        PeakMeasurement(
          threads: threads, matrixSize: configuration.sgemmSize, gflopsPerSecond: peak))
    }
    var measurements: [Measurement] = []
    var multiplyAdds = 0
    var implementations: [String: String] = [:]
    for precision in configuration.precisions.compactMap(Precision.init(rawValue:)) {
      for threads in configuration.threadCounts {
        for batchSize in configuration.batchSizes {
          let resetWorked = ProcessMemory.resetPeak()
          let model = try MobileNetV1(
            weights: weights, batchSize: batchSize, threads: threads, precision: precision)
          multiplyAdds = model.multiplyAddsPerImage
          implementations = model.implementationNames
          let input = InferenceBenchmark.randomImages(count: batchSize)
          for _ in 0..<configuration.warmUpPasses { _ = try model.forward(input) }
          var passes = 0
          let clock = ContinuousClock()
          let start = clock.now
          let cpuStart = InferenceBenchmark.processCPUSeconds()
          var elapsed = 0.0
          while passes < configuration.minimumPasses || elapsed < configuration.minimumSeconds {
            _ = try model.forward(input)
            passes += 1
            elapsed = InferenceBenchmark.seconds(clock.now - start)
          }
          let cpuSeconds = InferenceBenchmark.processCPUSeconds() - cpuStart
          let images = Double(passes * batchSize)
          let gflops = images * 2 * Double(multiplyAdds) / elapsed / 1e9
          let peak = peaks.first { $0.threads == threads }?.gflopsPerSecond ?? .nan
          let measurement = Measurement(
            batchSize: batchSize, threads: threads, precision: precision.rawValue, passes: passes,
            imagesPerSecond: images / elapsed, millisecondsPerImage: elapsed * 1000 / images,
            millisecondsPerBatch: elapsed * 1000 / Double(passes), gflopsPerSecond: gflops,
            fractionOfPeak: gflops / peak, cpuMillisecondsPerImage: cpuSeconds * 1000 / images,
            peakResidentBytes: resetWorked ? ProcessMemory.peakResidentBytes() : nil)
          progress(
            "\(precision), batch \(batchSize), \(threads) threads: \(measurement.imagesPerSecond) images/s, "
              + "\(measurement.millisecondsPerImage) ms/image (CPU \(measurement.cpuMillisecondsPerImage)), "
              + "\(gflops) GFLOP/s")
          measurements.append(measurement)
        }
      }
    }
    return Result(
      configuration: configuration, multiplyAddsPerImage: multiplyAdds, peaks: peaks,
      measurements: measurements, processPeakResidentBytes: ProcessMemory.peakResidentBytes(),
      implementations: implementations,
      openMPWaitPolicy: getenv("OMP_WAIT_POLICY").map { String(cString: $0) })
  }

  /// Best-of-repetitions SGEMM GFLOP/s for square matrices on `threads` threads.
  public func sgemmPeak(threads: Int) throws -> Double {
    try OpenMPThreads.set(threads)
    let size = configuration.sgemmSize
    var generator = SeededRandom(seed: 7)
    let a = (0..<size * size).map { _ in Float(generator.uniform(-1...1)) }
    let b = (0..<size * size).map { _ in Float(generator.uniform(-1...1)) }
    var c = [Float](repeating: 0, count: size * size)
    let dimension = dnnl_dim_t(size)
    let clock = ContinuousClock()
    var best = Double.infinity
    // The first call warms caches and oneDNN's JIT; it is not timed.
    for repetition in 0...configuration.sgemmRepetitions {
      let start = clock.now
      let status = dnnl_sgemm(
        CChar(UInt8(ascii: "N")), CChar(UInt8(ascii: "N")), dimension, dimension, dimension, 1,
        a, dimension, b, dimension, 0, &c, dimension)
      let elapsed = InferenceBenchmark.seconds(clock.now - start)
      try checkDNNL(status, "dnnl_sgemm", layer: "benchmark")
      if repetition > 0 { best = min(best, elapsed) }
    }
    return 2 * Double(size) * Double(size) * Double(size) / best / 1e9
  }

  /// Random weights of the ImageNet model's shapes, He-uniform scaled so activations stay O(1)
  /// (values far from 1 would not change the work, but denormals could slow it down).
  static func randomWeights() -> [String: HostTensor] {
    var generator = SeededRandom(seed: 1)
    var weights: [String: HostTensor] = [:]
    for (name, shape) in MobileNetV1Architecture.tensorShapes() {
      let count = shape.reduce(1, *)
      var scale: Float = 0.1
      var offset: Float = 0
      if name.hasSuffix("weights") {
        let fanIn = shape[0] * shape[1] * (name.hasSuffix("depthwise_weights") ? 1 : shape[2])
        scale = (6 / Float(fanIn)).squareRoot()
      } else if name.hasSuffix("gamma") || name.hasSuffix("moving_variance") {
        offset = 1
      }
      let values = (0..<count).map { _ in offset + scale * Float(generator.uniform(-1...1)) }
      weights[name] = HostTensor(shape: shape, values: values)
    }
    return weights
  }

  static func randomImages(count: Int) -> HostTensor {
    var generator = SeededRandom(seed: 2)
    let size = MobileNetV1Architecture.inputSize
    return HostTensor(
      shape: [count, size, size, 3],
      values: (0..<count * size * size * 3).map { _ in Float(generator.uniform(-1...1)) })
  }

  static func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
  }

  static func seconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) + Double(attoseconds) * 1e-18
  }
}
