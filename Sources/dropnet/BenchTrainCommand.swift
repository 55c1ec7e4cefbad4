import ArgumentParser
import DropnetEngine
import DropnetModel
import DropnetTraining
import Foundation

struct BenchTrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Training-step speed and memory for each --fine-tune mode.",
    discussion: """
      Times steady-state SGD steps (base forward in batch-statistics mode, head forward and
      backward, base backward, updates) of MobileNet v1 at 224x224 for each mode, batch size
      and thread count, after one warm-up step, on the imported ImageNet weights and random
      images (decoding is not included: in training it runs on a worker thread beside the
      step). `head` times the head alone on cached features. Reports images/s, the process's
      resident memory after each configuration and its peak, and the load average, since on
      2 cores any other busy process slows every figure.
      """
  )

  @Option(name: .long, parsing: .upToNextOption, help: "Modes: head, bn, top:K, all.")
  var modes: [String] = ["head", "bn", "top:2", "all"]

  @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes to measure.")
  var batch: [Int] = [16, 32]

  @Option(name: .long, parsing: .upToNextOption, help: "Thread counts to measure.")
  var threads: [Int] = [1, 2]

  @Option(name: .long, help: "Timed steps per configuration.")
  var steps: Int = 3

  @Option(name: .long, help: "Base weights (default: the imported ImageNet weights).")
  var weights: String?

  @Flag(name: .long, help: "Print JSON instead of a table.")
  var json = false

  struct Measurement: Codable {
    var mode: String
    var batchSize: Int
    var threads: Int
    var imagesPerSecond: Double
    var secondsPerStep: Double
    var residentMegabytes: Double
    var loadAverage: Double
  }

  struct Result: Codable {
    var measurements: [Measurement]
    var peakResidentMegabytes: Double
  }

  func validate() throws {
    for mode in modes where FineTuneMode(mode) == nil {
      throw ValidationError("--modes: \(mode) is not head, bn, top:K (K 1-13) or all")
    }
    if batch.contains(where: { $0 < 2 }) { throw ValidationError("--batch sizes must be >= 2") }
    if threads.contains(where: { $0 < 1 }) { throw ValidationError("--threads must be >= 1") }
    if steps < 1 { throw ValidationError("--steps must be at least 1") }
  }

  func run() throws {
    let terminal = Terminal()
    let baseURL = weights.map { URL(fileURLWithPath: $0) } ?? WeightsLocation.imagenet
    let base = ClassifierHeadModel.TensorName.baseTensors(
      of: try Checkpoint.read(from: baseURL).tensors)
    var measurements: [Measurement] = []
    let classCount = 4
    let classWeights = [Double](repeating: 1, count: classCount)
    var settings = FineTuner.Settings()
    for text in modes {
      let mode = FineTuneMode(text)!
      for batchSize in batch {
        let classes = (0..<batchSize).map { $0 % classCount }
        var random = SeededRandom(seed: 7)
        guard let trained = mode.trainedConvolutionCount else {
          // Head on cached features: the step is the head alone.
          var head = try ClassifierHeadModel(classCount: classCount)
          let features = (0..<(batchSize * MobileNetV1.featureCount)).map { _ in
            Float(random.uniform(0...6))
          }
          let seconds = try time(steps: steps) {
            head.train(
              features: features, classIndices: classes, classWeights: classWeights,
              learningRate: 1e-3, dropoutSeed: random.next())
          }
          measurements.append(
            measurement(text, batchSize: batchSize, threads: 1, seconds: seconds))
          continue
        }
        for threadCount in threads {
          terminal.progress("bench train \(text) batch \(batchSize) threads \(threadCount)...")
          settings.threads = threadCount
          let network = try MobileNetV1Trainable(
            weights: base, batchSize: batchSize, threads: threadCount,
            trainedConvolutionCount: trained)
          var head = try ClassifierHeadModel(classCount: classCount)
          let side = MobileNetV1.defaultImageSize
          let images = HostTensor(
            shape: [batchSize, side, side, 3],
            values: (0..<(batchSize * side * side * 3)).map { _ in Float(random.uniform(-1...1)) })
          let seconds = try time(steps: steps) {
            _ = try FineTuner.step(
              network: network, head: &head, images: images, classIndices: classes,
              classWeights: classWeights, settings: settings, dropoutSeed: random.next())
          }
          measurements.append(
            measurement(text, batchSize: batchSize, threads: threadCount, seconds: seconds))
        }
      }
    }
    terminal.clearProgress()
    let result = Result(
      measurements: measurements, peakResidentMegabytes: ProcessMemory.peakResidentMegabytes())
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(result), as: UTF8.self))
      return
    }
    print(
      Terminal.table(
        header: ["mode", "batch", "threads", "images/s", "s/step", "RSS MB", "load"],
        rows: measurements.map {
          [
            $0.mode, "\($0.batchSize)", "\($0.threads)", String(format: "%.1f", $0.imagesPerSecond),
            String(format: "%.3f", $0.secondsPerStep), String(format: "%.0f", $0.residentMegabytes),
            String(format: "%.2f", $0.loadAverage),
          ]
        }))
    print(String(format: "\npeak RSS: %.0f MB", result.peakResidentMegabytes))
  }

  /// Seconds per step: one untimed warm-up step, then the mean of `steps` timed ones.
  private func time(steps: Int, _ step: () throws -> Void) throws -> Double {
    try step()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<steps { try step() }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(steps)
  }

  private func measurement(_ mode: String, batchSize: Int, threads: Int, seconds: Double)
    -> Measurement
  {
    Measurement(
      mode: mode, batchSize: batchSize, threads: threads,
      imagesPerSecond: Double(batchSize) / seconds, secondsPerStep: seconds,
      residentMegabytes: ProcessMemory.residentMegabytes(), loadAverage: Self.loadAverage())
  }

  /// The 1-minute load average (other processes competing for the cores).
  static func loadAverage() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
      let first = text.split(separator: " ").first, let value = Double(first)
    else { return .nan }
    return value
  }
}
