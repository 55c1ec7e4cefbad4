import ArgumentParser
import DropnetDataset
import DropnetEngine
import Foundation
import Logging

struct BenchExtractCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "extract",
    abstract: "Extraction throughput and peak memory on a drop folder.",
    discussion: """
      Extracts the whole drop folder into a fresh temporary state folder (default settings), \
      repeated --runs times, and reports decoded frames per second, movies per minute and the \
      process's peak resident memory. For the bounded-memory check on a long movie, make one \
      with `examples/make-examples.sh --long` and pass --drop examples/generated/long.
      """
  )

  @Option(name: .long, help: "The drop folder to extract.")
  var drop: String = "examples/generated/drop"

  @Option(name: .long, help: "How many times to extract it.")
  var runs: Int = 3

  @Flag(name: .long, help: "Print JSON instead of a table.")
  var json = false

  struct Result: Codable {
    var movies: Int
    var decodedFrames: Int
    var keptFrames: Int
    var secondsPerRun: [Double]
    var decodedFramesPerSecond: Double
    var moviesPerMinute: Double
    var peakResidentMegabytes: Double
  }

  func run() throws {
    var seconds: [Double] = []
    var last: Manifest?
    for _ in 0..<max(1, runs) {
      let state = FileManager.default.temporaryDirectory
        .appendingPathComponent("dropnet-bench-\(getpid())-\(UUID().uuidString.prefix(8))")
      defer { try? FileManager.default.removeItem(at: state) }
      let builder = DatasetBuilder(
        dropFolder: URL(fileURLWithPath: drop), stateFolder: state,
        settings: ExtractionSettings(),
        logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
      let started = DispatchTime.now().uptimeNanoseconds
      let summary = try builder.run()
      seconds.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
      last = summary.manifest
    }
    let manifest = last ?? Manifest()
    let decoded = manifest.movies.values.reduce(0) { $0 + $1.decodedFrameCount }
    let best = seconds.min() ?? 1
    let result = Result(
      movies: manifest.movies.count, decodedFrames: decoded,
      keptFrames: manifest.movies.values.reduce(0) { $0 + $1.keptFrames.count },
      secondsPerRun: seconds, decodedFramesPerSecond: Double(decoded) / best,
      moviesPerMinute: Double(manifest.movies.count) / best * 60,
      peakResidentMegabytes: ProcessMemory.peakResidentMegabytes())
    if json {
      try Terminal.printJSON(result)
      return
    }
    print(
      Terminal.table(
        header: ["measure", "value"],
        rows: [
          ["movies", "\(result.movies)"],
          ["frames decoded", "\(result.decodedFrames)"],
          ["frames kept", "\(result.keptFrames)"],
          ["seconds per run (best of \(seconds.count))", String(format: "%.2f", best)],
          ["decoded frames/s", String(format: "%.0f", result.decodedFramesPerSecond)],
          ["movies/min", String(format: "%.1f", result.moviesPerMinute)],
          ["peak RSS (MB)", String(format: "%.0f", result.peakResidentMegabytes)],
        ]))
  }
}
