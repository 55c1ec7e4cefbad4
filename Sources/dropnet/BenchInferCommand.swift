import ArgumentParser
import DropnetEngine
import Foundation

struct BenchInferCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "infer",
    abstract: "MobileNet v1 inference speed: images/s per batch size and thread count.",
    discussion: """
      Measures the machine's SGEMM peak with oneDNN, then MobileNet v1 forward passes at each \
      batch size and thread count (warm-up excluded), and reports images/s, ms/image, achieved \
      GFLOP/s as a fraction of the peak, and peak resident memory. Weights are random: speed \
      does not depend on their values. Close other busy programs: on 2 cores a second busy \
      process halves what 2 threads can do.
      """
  )

  @Option(name: .long, parsing: .upToNextOption, help: "Batch sizes to measure.")
  var batch: [Int] = [1, 16, 32]

  @Option(name: .long, parsing: .upToNextOption, help: "Thread counts to measure.")
  var threads: [Int] = [1, 2]

  @Option(
    name: .long, parsing: .upToNextOption,
    help:
      "Number formats to measure: float32, bfloat16, auto (default: float32, and bfloat16 where the CPU has it)."
  )
  var precision: [String] = []

  @Flag(name: .long, help: "Print JSON instead of a table.")
  var json = false

  func validate() throws {
    for text in precision where Precision(setting: text) == nil {
      throw ValidationError("--precision takes float32, bfloat16 or auto, not \(text)")
    }
  }

  func run() throws {
    var configuration = InferenceBenchmark.Configuration()
    configuration.batchSizes = batch
    configuration.threadCounts = threads
    let precisions: [Precision] =
      precision.isEmpty
      ? (CPUEngine.hasNativeBFloat16 ? [.float32, .bfloat16] : [.float32])
      : precision.compactMap(Precision.init(setting:))
    configuration.precisions = precisions.map(\.rawValue)
    let terminal = Terminal()
    let result = try InferenceBenchmark(configuration: configuration).run(progress: {
      terminal.progress($0)
    })
    terminal.clearProgress()
    if json {
      try Terminal.printJSON(result)
      return
    }
    print(
      Terminal.table(
        header: ["threads", "SGEMM peak GFLOP/s"],
        rows: result.peaks.map { ["\($0.threads)", String(format: "%.1f", $0.gflopsPerSecond)] }))
    print()
    print(
      Terminal.table(
        header: ["precision", "batch", "threads", "images/s", "ms/image", "GFLOP/s", "of peak"],
        rows: result.measurements.map {
          [
            $0.precision, "\($0.batchSize)", "\($0.threads)",
            String(format: "%.1f", $0.imagesPerSecond),
            String(format: "%.2f", $0.millisecondsPerImage),
            String(format: "%.1f", $0.gflopsPerSecond),
            String(format: "%.0f%%", $0.fractionOfPeak * 100),
          ]
        }))
    if let peak = result.processPeakResidentBytes {
      print(String(format: "\npeak RSS: %.0f MB", Double(peak) / 1_048_576))
    }
  }
}
