import ArgumentParser
import DropnetDataset
import Foundation
import Logging

struct ExtractCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "extract",
    abstract: "Extract clean frames from the movies in a drop folder, incrementally.",
    discussion: """
      Only new or changed movies are decoded; removed movies lose their frames. Frames go to \
      STATE/frames/<label>/<movie-id>/<frame-index>.jpg and STATE/manifest.json records every \
      movie (size, mtime, SHA-256, settings, frames kept and why others were dropped). \
      Changing a setting re-extracts the movies it affects.

      Exit status: 0 when every movie was extracted (or unchanged), 1 when some failed (the \
      others are still extracted; a failed movie keeps its earlier frames).
      """
  )

  @Option(name: .long, help: "The drop folder holding LABEL.mov or LABEL/*.mov movies.")
  var drop: String

  @Option(name: .long, help: "The state folder for frames and the manifest (created if missing).")
  var state: String

  @Option(name: .long, help: "Frames to sample per second of video.")
  var rate: Double = 8

  @Option(name: .long, help: "Sample every Nth frame instead of a rate.")
  var every: Int?

  @Option(name: .long, help: "Most frames sampled per movie (long movies are sampled sparser).")
  var maxFrames: Int = 300

  @Option(name: .long, help: "Longer side of stored frames, in pixels.")
  var maxSide: Int = 320

  @Flag(name: .long, inversion: .prefixedNo, help: "Drop blurred and near-duplicate frames.")
  var qualityFilter = true

  @Option(name: .long, help: "Blurred: sharpness below this fraction of the movie's median.")
  var blurRatio: Double = 0.3

  @Option(name: .long, help: "Near-duplicate: difference hash within this many bits (0-64).")
  var duplicateBits: Int = 3

  @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
  var logLevel: Logger.Level?

  func validate() throws {
    if rate <= 0 { throw ValidationError("--rate must be positive") }
    if let every, every < 1 { throw ValidationError("--every must be at least 1") }
    if maxSide < 32 { throw ValidationError("--max-side must be at least 32") }
    if !(0...64).contains(duplicateBits) {
      throw ValidationError("--duplicate-bits must be within 0-64")
    }
    if !(0...1).contains(blurRatio) { throw ValidationError("--blur-ratio must be within 0-1") }
  }

  var settings: ExtractionSettings {
    var settings = ExtractionSettings()
    settings.sampling = every.map { .interval($0) } ?? .rate(rate)
    settings.maximumFramesPerMovie = maxFrames
    settings.maximumSide = maxSide
    settings.qualityFilter = qualityFilter
    settings.blurRatio = blurRatio
    settings.duplicateBits = duplicateBits
    return settings
  }

  func run() throws {
    let terminal = Terminal()
    let level = logLevel ?? (terminal.isInteractive ? .warning : .info)
    var logger = Logger(label: "dropnet.extract") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = level
    let builder = DatasetBuilder(
      dropFolder: URL(fileURLWithPath: drop), stateFolder: URL(fileURLWithPath: state),
      settings: settings, logger: logger)
    let started = Date()
    let summary: DatasetBuilder.Summary
    do {
      summary = try builder.run(events: { event in
        if case .decoding(let path, let decoded, let expected) = event {
          logger.debug(
            "decoding", metadata: ["movie": "\(path)", "frame": "\(decoded)", "of": "\(expected)"])
        }
        Self.show(event, on: terminal)
      })
    } catch let error as DatasetError {
      terminal.note("error: \(error)")
      throw ExitCode(2)
    }
    terminal.clearProgress()
    print(Self.summaryTable(summary.manifest))
    let seconds = Date().timeIntervalSince(started)
    print(
      "\(summary.extracted.count) extracted, \(summary.unchanged.count) unchanged, "
        + "\(summary.removed.count) removed, \(summary.failed.count) failed "
        + "in \(String(format: "%.1f", seconds)) s")
    for (path, error) in summary.failed.sorted(by: { $0.key < $1.key }) {
      terminal.note("failed: \(path): \(error.message)")
    }
    if !summary.failed.isEmpty || !summary.labelErrors.isEmpty { throw ExitCode(1) }
  }

  static func show(_ event: ExtractionEvent, on terminal: Terminal) {
    switch event {
    case .scanned(let movies, let pending, let unchanged):
      if terminal.isInteractive {
        terminal.note("\(movies) movies: \(pending) to extract, \(unchanged) unchanged")
      }
    case .skipped(let skipped):
      if terminal.isInteractive {
        terminal.note("ignored \(skipped.relativePath): \(skipped.reason)")
      }
    case .labelError(let error):
      if terminal.isInteractive { terminal.note("label problem: \(error)") }
    case .movieStarted(let path, let position, let total):
      terminal.progress("[\(position)/\(total)] \(path)")
    case .decoding(let path, let decoded, let expected):
      let of = expected > 0 ? "/\(expected)" : ""
      terminal.progress("\(path): frame \(decoded)\(of)")
    case .movieExtracted(let record, let seconds):
      let dropped = record.droppedCounts.map { "\($0.value) \($0.key.rawValue)" }.sorted()
      let droppedText = dropped.isEmpty ? "" : ", dropped " + dropped.joined(separator: ", ")
      if terminal.isInteractive {
        terminal.note(
          "extracted \(record.path) -> \(record.label): \(record.keptFrames.count) frames"
            + droppedText + String(format: " (%.1f s)", seconds))
        for warning in record.warnings { terminal.note("  warning: \(warning)") }
      }
    case .movieFailed(let path, let error):
      if terminal.isInteractive { terminal.note("failed \(path): \(error.message)") }
    case .movieRemoved(let path, let label):
      if terminal.isInteractive { terminal.note("removed \(path) (\(label))") }
    case .movieTouched:
      break
    }
  }

  static func summaryTable(_ manifest: Manifest) -> String {
    let byLabel = Dictionary(grouping: manifest.movies.values, by: \.label)
    var rows: [[String]] = []
    var totals = [0, 0, 0, 0]
    for (label, records) in byLabel.sorted(by: { $0.key < $1.key }) {
      let kept = records.reduce(0) { $0 + $1.keptFrames.count }
      let blurred = records.reduce(0) { $0 + ($1.droppedCounts[.blurred] ?? 0) }
      let duplicate = records.reduce(0) { $0 + ($1.droppedCounts[.duplicate] ?? 0) }
      let counts = [records.count, kept, blurred, duplicate]
      totals = zip(totals, counts).map { $0 + $1 }
      rows.append([label.name] + counts.map(String.init))
    }
    rows.append(["total"] + totals.map(String.init))
    return Terminal.table(
      header: ["label", "movies", "frames kept", "blurred", "duplicates"], rows: rows)
  }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
