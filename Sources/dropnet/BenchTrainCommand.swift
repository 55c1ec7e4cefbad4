import ArgumentParser
import DropnetArchitecture
import DropnetEngine
import DropnetModel
import DropnetTraining
import Foundation

struct BenchTrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Training-step speed and memory for each --fine-tune mode.",
    discussion: """
      Times steady-state SGD steps (base forward in batch-statistics mode, head forward and \
      backward, base backward, updates) of MobileNet v1 at 224x224 for each mode, batch size \
      and thread count, after one warm-up step, on the imported ImageNet weights and random \
      images (decoding is not included: in training it runs on a worker thread beside the \
      step). `head` times the head alone on cached features. Reports images/s, the process's \
      resident memory after each configuration and its peak, and the load average, since on \
      2 cores any other busy process slows every figure.

      Then it times whole `dropnet train` runs with default settings (`--run-modes`, default \
      head, the default mode) on a state folder (`--run-state`, default the bundled example's \
      examples/generated/state when it exists): wall time, feature and training time from \
      the run's report.json, validation accuracy, and the run's peak resident memory.
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

  @Option(
    name: .long, parsing: .upToNextOption,
    help:
      "Number formats of the base: float32, bfloat16, auto (default: float32, and bfloat16 where the CPU has it)."
  )
  var precision: [String] = []

  @Option(name: .long, help: "Base weights (default: the imported ImageNet weights).")
  var weights: String?

  @Option(
    name: .long,
    help:
      "State folder for whole default `dropnet train` runs (default: examples/generated/state if present)."
  )
  var runState: String?

  @Option(
    name: .long, parsing: .upToNextOption,
    help: "--fine-tune modes of the whole runs (none: skip them).")
  var runModes: [String] = ["head"]

  @Flag(name: .long, help: "Print JSON instead of a table.")
  var json = false

  /// One whole `dropnet train` run with default settings.
  struct WholeRun: Codable {
    var mode: String
    var seconds: Double
    var featureSeconds: Double
    var trainingSeconds: Double
    var epochs: Int
    var validationAccuracy: Double?
    /// The run's peak resident memory (its VmHWM, sampled while it runs).
    var peakResidentMegabytes: Double
  }

  struct Measurement: Codable {
    var mode: String
    var precision: String
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
    var wholeRuns: [WholeRun]
  }

  func validate() throws {
    for mode in modes where FineTuneMode(mode) == nil {
      throw ValidationError("--modes: \(mode) is not head, bn, top:K (K 1-13) or all")
    }
    for mode in runModes where FineTuneMode(mode) == nil && mode != "none" {
      throw ValidationError("--run-modes: \(mode) is not head, bn, top:K (K 1-13), all or none")
    }
    if batch.contains(where: { $0 < 2 }) { throw ValidationError("--batch sizes must be >= 2") }
    if threads.contains(where: { $0 < 1 }) { throw ValidationError("--threads must be >= 1") }
    if steps < 1 { throw ValidationError("--steps must be at least 1") }
    for text in precision where Precision(setting: text) == nil {
      throw ValidationError("--precision takes float32, bfloat16 or auto, not \(text)")
    }
  }

  func run() throws {
    let terminal = Terminal()
    let baseURL = weights.map { URL(fileURLWithPath: $0) } ?? WeightsLocation.imagenet
    let base = Checkpoint.baseTensors(
      of: try Checkpoint.read(from: baseURL).tensors)
    var measurements: [Measurement] = []
    let classCount = 4
    let classWeights = [Double](repeating: 1, count: classCount)
    var settings = TrainingSettings(mode: .batchNorm)
    let precisions: [Precision] =
      precision.isEmpty
      ? (CPUEngine.hasNativeBFloat16 ? [.float32, .bfloat16] : [.float32])
      : precision.compactMap(Precision.init(setting:))
    for text in modes {
      let mode = FineTuneMode(text)!
      for batchSize in batch {
        let classes = (0..<batchSize).map { $0 % classCount }
        var random = SeededRandom(seed: 7)
        guard let trained = mode.trainedConvolutionCount else {
          // Head on cached features: the step is the head alone.
          var head = try ClassifierHeadModel(classCount: classCount)
          let features = (0..<(batchSize * MobileNetV1Architecture.featureCount)).map { _ in
            Float(random.uniform(0...6))
          }
          let seconds = try time(steps: steps) {
            head.train(
              features: features, classIndices: classes, classWeights: classWeights,
              learningRate: 1e-3, dropoutSeed: random.next())
          }
          measurements.append(
            measurement(
              text, precision: "-", batchSize: batchSize, threads: 1, seconds: seconds))
          continue
        }
        for precision in precisions {
          for threadCount in threads {
            terminal.progress(
              "bench train \(text) \(precision) batch \(batchSize) threads \(threadCount)...")
            settings.threads = threadCount
            let network = try MobileNetV1Trainable(
              weights: base, batchSize: batchSize, threads: threadCount,
              trainedConvolutionCount: trained, precision: precision)
            var head = try ClassifierHeadModel(classCount: classCount)
            let side = MobileNetV1Architecture.inputSize
            let images = HostTensor(
              shape: [batchSize, side, side, 3],
              values: (0..<(batchSize * side * side * 3)).map { _ in Float(random.uniform(-1...1)) }
            )
            let seconds = try time(steps: steps) {
              _ = try Trainer.step(
                network: network, head: &head, images: images, classIndices: classes,
                classWeights: classWeights, settings: settings, dropoutSeed: random.next())
            }
            measurements.append(
              measurement(
                text, precision: precision.rawValue, batchSize: batchSize, threads: threadCount,
                seconds: seconds))
          }
        }
      }
    }
    let peak = ProcessMemory.peakResidentMegabytes()
    let wholeRuns = try timeWholeRuns(terminal: terminal)
    terminal.clearProgress()
    let result = Result(
      measurements: measurements, peakResidentMegabytes: peak, wholeRuns: wholeRuns)
    if json {
      try Terminal.printJSON(result)
      return
    }
    print(
      Terminal.table(
        header: ["mode", "precision", "batch", "threads", "images/s", "s/step", "RSS MB", "load"],
        rows: measurements.map {
          [
            $0.mode, $0.precision, "\($0.batchSize)", "\($0.threads)",
            String(format: "%.1f", $0.imagesPerSecond),
            String(format: "%.3f", $0.secondsPerStep), String(format: "%.0f", $0.residentMegabytes),
            String(format: "%.2f", $0.loadAverage),
          ]
        }))
    print(String(format: "\npeak RSS: %.0f MB", result.peakResidentMegabytes))
    guard !wholeRuns.isEmpty else { return }
    print("\nwhole default `dropnet train` runs:")
    print(
      Terminal.table(
        header: ["mode", "seconds", "features s", "training s", "epochs", "val acc", "peak MB"],
        rows: wholeRuns.map {
          [
            $0.mode, String(format: "%.1f", $0.seconds), String(format: "%.1f", $0.featureSeconds),
            String(format: "%.1f", $0.trainingSeconds), "\($0.epochs)",
            $0.validationAccuracy.map { String(format: "%.3f", $0) } ?? "-",
            String(format: "%.0f", $0.peakResidentMegabytes),
          ]
        }))
  }

  /// Runs `dropnet train` (this executable) once per `--run-modes` mode with default settings
  /// into a temporary run folder, and reads the run's report.json.
  private func timeWholeRuns(terminal: Terminal) throws -> [WholeRun] {
    guard !runModes.contains("none") else { return [] }
    let state =
      runState
      ?? FileManager.default.currentDirectoryPath + "/examples/generated/state"
    guard FileManager.default.fileExists(atPath: state + "/manifest.json") else {
      if runState != nil {
        throw ValidationError("--run-state \(state) has no manifest.json: run dropnet extract")
      }
      terminal.note("no examples/generated/state here: whole runs skipped (see --run-state)")
      return []
    }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "dropnet-bench-\(getpid())")
    defer { try? FileManager.default.removeItem(at: scratch) }
    var runs: [WholeRun] = []
    for mode in runModes {
      terminal.progress("bench train: a whole default `dropnet train --fine-tune \(mode)`...")
      let runFolder = scratch.appendingPathComponent(mode.replacingOccurrences(of: ":", with: "-"))
      try FileManager.default.createDirectory(at: runFolder, withIntermediateDirectories: true)
      let log = runFolder.appendingPathComponent("train.log")
      _ = FileManager.default.createFile(atPath: log.path, contents: nil)
      let output = try FileHandle(forWritingTo: log)
      defer { try? output.close() }
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
      process.arguments = ["train", "--state", state, "--run", runFolder.path, "--fine-tune", mode]
      process.standardOutput = output
      process.standardError = output
      let started = DispatchTime.now().uptimeNanoseconds
      try process.run()
      // getrusage's children maximum would include this process's own memory (a child
      // starts as a copy), so the child's high-water mark is read while it runs.
      var peakMegabytes = 0.0
      while process.isRunning {
        // max keeps the figure so far when the process has just gone (nan).
        peakMegabytes = max(
          peakMegabytes,
          ProcessMemory.peakResidentMegabytes(process: "\(process.processIdentifier)"))
        usleep(50_000)
      }
      process.waitUntilExit()
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
      guard process.terminationStatus == 0 else {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        throw ValidationError(
          "dropnet train --fine-tune \(mode) failed (status \(process.terminationStatus)):\n\(text)"
        )
      }
      let report = try JSONDecoder().decode(
        TrainingReport.self,
        from: Data(contentsOf: runFolder.appendingPathComponent("report.json")))
      runs.append(
        WholeRun(
          mode: mode, seconds: seconds, featureSeconds: report.timings.features,
          trainingSeconds: report.timings.training, epochs: report.timings.epochs.count,
          validationAccuracy: report.validationAccuracy,
          peakResidentMegabytes: peakMegabytes))
    }
    return runs
  }

  /// Seconds per step: one untimed warm-up step, then the mean of `steps` timed ones.
  private func time(steps: Int, _ step: () throws -> Void) throws -> Double {
    try step()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<steps { try step() }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(steps)
  }

  private func measurement(
    _ mode: String, precision: String, batchSize: Int, threads: Int, seconds: Double
  ) -> Measurement {
    Measurement(
      mode: mode, precision: precision, batchSize: batchSize, threads: threads,
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
