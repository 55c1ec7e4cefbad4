import DropnetEngine
import DropnetExport
import DropnetModel
import DropnetTraining
import Foundation
import Logging
import TOMLKit

/// Everything `dropnet serve` can be told, from a TOML file (systemd/dropnet.toml documents
/// every key with its default) with command-line overrides on top.
///
/// Keys are `section.name` (`training.batch_size`). A key of the wrong type, out of range, or
/// unknown (a typo) is an error naming it; the daemon refuses to start on one, and on reload
/// keeps its previous configuration.
public struct DaemonConfiguration: Sendable, Equatable {
  /// A value from the file or a flag.
  public enum Value: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case integer(Int)
    case double(Double)
    case bool(Bool)

    public var description: String {
      switch self {
      case .string(let text): "\"\(text)\""
      case .integer(let number): "\(number)"
      case .double(let number): "\(number)"
      case .bool(let flag): "\(flag)"
      }
    }
  }

  // [folders]
  /// Where users drop labelled movies.
  public var dropFolder = "/srv/dropnet/drop"
  /// Manifest, frames, checkpoints, status.json, the pid file.
  public var stateFolder = "/var/lib/dropnet"
  /// Held-out photos (`<label>/<photo>`) scored at every publish; empty: `.heldout` in the
  /// drop folder.
  public var heldOutFolder = ""
  /// Where `<name>.mlmodel` (and the other formats), `<name>.json` and `versions/` are
  /// published.
  public var outputFolder = "/srv/dropnet/models"
  /// The held-out photos folder in force.
  public var resolvedHeldOutFolder: String {
    heldOutFolder.isEmpty
      ? URL(fileURLWithPath: dropFolder).appendingPathComponent(".heldout").path : heldOutFolder
  }
  // [model]
  /// The published files are `<modelName>.mlmodel`, `.onnx`, `.tflite`.
  public var modelName = "DropnetClassifier"
  /// Published versions kept in `versions/`.
  public var versionsKept = 5
  /// The formats published, all of one version (`model.formats`: "mlmodel,onnx,tflite").
  public var formats = ExportFormat.allCases
  // [extraction]
  /// Frames sampled per second of video.
  public var frameRate = 8.0
  /// Most frames sampled per movie.
  public var maximumFramesPerMovie = 300
  /// Longer side of stored frames in pixels.
  public var maximumSide = 320
  /// Drop blurred and near-duplicate frames.
  public var qualityFilter = true
  // [training]
  /// The second pass's mode (the fast pass is always `head`).
  public var fineTune = FineTuneMode.head
  /// Epochs of the fast pass.
  public var fastEpochs = 15
  /// Epochs of the second pass when it starts from ImageNet weights.
  public var freshEpochs = 30
  /// Epochs of the second pass when it warm-starts from the published checkpoint.
  public var incrementalEpochs = 10
  /// Examples per SGD step.
  public var batchSize = 32
  /// Compute threads; 0 = one per core.
  public var threads = 0
  /// A class with fewer kept frames waits, left out of training, while the others train.
  public var minimumFramesPerClass = 20
  /// Most frames per class and side of the split used for training (0 = all).
  public var maximumFramesPerClass = 0
  /// Share of each class held out for validation.
  public var validationFraction = 0.25
  /// Publish a fast head pass first, then the second pass.
  public var twoSpeed = true
  /// How photos become the model's input (what the app asks iOS Vision for).
  public var framing = InputFraming.centerCrop
  /// Head passes: augmented copies of each training frame cached beside it.
  public var augmentedCopies = TrainingSettings().augmentedCopies
  /// What the base network computes in while training ("auto", "float32", "bfloat16").
  public var precision = "auto"
  // [publish]
  /// Whether a retrained model must not be worse than the published one.
  public var gate = true
  /// Accuracy a new model may lose against the published one and still pass.
  public var gateMargin = 0.0
  // [watch]
  /// How long a file must stay unchanged after it was written.
  public var settle: Duration = .seconds(5)
  /// Quiet time after the last change before retraining.
  public var debounce: Duration = .seconds(30)
  // [log]
  /// The lowest level logged.
  public var logLevel: Logger.Level = .info

  /// The defaults (as systemd/dropnet.toml shows them).
  public init() {}

  /// The file (when given) with `overrides` (keys `section.name`) on top; throws
  /// `DaemonError` naming the first bad key.
  public static func load(file: String?, overrides: [String: Value] = [:]) throws
    -> DaemonConfiguration
  {
    var text = ""
    if let file {
      guard let data = FileManager.default.contents(atPath: file) else {
        throw DaemonError(
          .unreadableConfiguration,
          "cannot read the configuration file \(file); check the path and its permissions")
      }
      text = String(decoding: data, as: UTF8.self)
    }
    return try parse(text, file: file ?? "(no file)", overrides: overrides)
  }

  /// Parses TOML `text` (named `file` in errors) and applies `overrides` on top.
  public static func parse(
    _ text: String, file: String = "config", overrides: [String: Value] = [:]
  )
    throws -> DaemonConfiguration
  {
    let table: TOMLTable
    do {
      table = try TOMLTable(string: text)
    } catch let error as TOMLParseError {
      throw DaemonError(
        .unreadableConfiguration,
        "\(file) line \(error.source.begin.line), column \(error.source.begin.column): "
          + "\(error.description); fix the TOML syntax")
    } catch {
      throw DaemonError(.unreadableConfiguration, "\(file): \(error)")
    }
    var values: [(key: String, value: Value)] = []
    for (section, content) in table.sorted(by: { $0.0 < $1.0 }) {
      guard let sectionTable = content.table else {
        throw DaemonError(
          .invalidConfiguration, key: section,
          "expected a [\(section)] section, found a value; keys belong in sections "
            + "(see systemd/dropnet.toml)")
      }
      for (name, raw) in sectionTable.sorted(by: { $0.0 < $1.0 }) {
        let key = "\(section).\(name)"
        values.append((key, try value(of: raw, key: key)))
      }
    }
    var configuration = DaemonConfiguration()
    for (key, value) in values { try configuration.set(key, value) }
    for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
      try configuration.set(key, value)
    }
    return configuration
  }

  /// Every key, in file order.
  public static let keys = [
    "folders.drop", "folders.state", "folders.output", "folders.heldout", "model.name",
    "model.versions_kept", "model.formats",
    "extraction.frame_rate", "extraction.max_frames", "extraction.max_side",
    "extraction.quality_filter", "training.fine_tune", "training.fast_epochs",
    "training.epochs_fresh", "training.epochs_incremental", "training.batch_size",
    "training.threads", "training.min_frames_per_class", "training.max_frames_per_class",
    "training.validation_fraction", "training.two_speed", "training.framing",
    "training.augmented_copies", "training.precision", "publish.gate",
    "publish.gate_margin",
    "watch.settle", "watch.debounce", "log.level",
  ]

  /// The second-pass modes: `head` (cached features), `bn`, `top:K` (K 1-13), `all`.
  public static let availableFineTuneModes = ["head", "bn", "top:K", "all"]

  /// Sets one key, checking its type and range.
  public mutating func set(_ key: String, _ value: Value) throws {
    func fail(_ message: String) -> DaemonError {
      DaemonError(.invalidConfiguration, key: key, "\(message), got \(value)")
    }
    func string() throws -> String {
      guard case .string(let text) = value else { throw fail("expected a string") }
      return text
    }
    func folder() throws -> String {
      let path = try string()
      guard path.hasPrefix("/") else { throw fail("expected an absolute folder path") }
      return path
    }
    func integer(_ range: ClosedRange<Int>) throws -> Int {
      guard case .integer(let number) = value else { throw fail("expected a whole number") }
      guard range.contains(number) else {
        throw fail("expected \(range.lowerBound)...\(range.upperBound)")
      }
      return number
    }
    func double(_ range: ClosedRange<Double>) throws -> Double {
      let number: Double
      switch value {
      case .double(let given): number = given
      case .integer(let given): number = Double(given)
      default: throw fail("expected a number")
      }
      guard range.contains(number), number.isFinite else {
        throw fail("expected \(range.lowerBound)...\(range.upperBound)")
      }
      return number
    }
    func bool() throws -> Bool {
      guard case .bool(let flag) = value else { throw fail("expected true or false") }
      return flag
    }
    func duration() throws -> Duration {
      guard let parsed = Self.duration(try string()) else {
        throw fail("expected a duration with a unit, like \"500ms\", \"5s\" or \"2min\"")
      }
      return parsed
    }
    switch key {
    case "folders.drop": dropFolder = try folder()
    case "folders.state": stateFolder = try folder()
    case "folders.output": outputFolder = try folder()
    case "model.name":
      let name = try string()
      let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
      guard !name.isEmpty, name.count <= 64, name.allSatisfy({ allowed.contains($0) }) else {
        throw fail("expected 1-64 letters, digits, _ or -")
      }
      modelName = name
    case "folders.heldout":
      let path = try string()
      guard path.isEmpty || path.hasPrefix("/") else {
        throw fail("expected an absolute path, or \"\" for .heldout in the drop folder")
      }
      heldOutFolder = path
    case "model.versions_kept": versionsKept = try integer(1...1000)
    case "model.formats":
      do {
        formats = try ExportFormat.list(try string())
      } catch let error as ExportError {
        throw fail(error.message)
      }
    case "extraction.frame_rate": frameRate = try double(0.01...240)
    case "extraction.max_frames": maximumFramesPerMovie = try integer(1...100_000)
    case "extraction.max_side": maximumSide = try integer(224...4096)
    case "extraction.quality_filter": qualityFilter = try bool()
    case "training.fine_tune":
      guard let mode = FineTuneMode(try string()) else {
        throw fail("expected one of \(Self.availableFineTuneModes.joined(separator: ", "))")
      }
      fineTune = mode
    case "training.fast_epochs": fastEpochs = try integer(1...10_000)
    case "training.epochs_fresh": freshEpochs = try integer(1...10_000)
    case "training.epochs_incremental": incrementalEpochs = try integer(1...10_000)
    case "training.batch_size": batchSize = try integer(2...4096)
    case "training.threads": threads = try integer(0...1024)
    case "training.min_frames_per_class": minimumFramesPerClass = try integer(2...1_000_000)
    case "training.max_frames_per_class": maximumFramesPerClass = try integer(0...1_000_000)
    case "training.validation_fraction": validationFraction = try double(0.05...0.9)
    case "training.two_speed": twoSpeed = try bool()
    case "training.precision":
      let text = try string()
      guard Precision(setting: text) != nil else {
        throw fail("expected auto, float32 or bfloat16")
      }
      precision = text
    case "training.framing":
      guard let parsed = InputFraming(rawValue: try string()) else {
        throw fail("expected center_crop or scale_fill")
      }
      framing = parsed
    case "training.augmented_copies": augmentedCopies = try integer(0...64)
    case "publish.gate": gate = try bool()
    case "publish.gate_margin": gateMargin = try double(0...1)
    case "watch.settle": settle = try duration()
    case "watch.debounce": debounce = try duration()
    case "log.level":
      guard let level = Logger.Level(rawValue: try string()) else {
        throw fail("expected trace, debug, info, notice, warning, error or critical")
      }
      logLevel = level
    default:
      throw DaemonError(
        .invalidConfiguration, key: key,
        "unknown key; the keys are \(Self.keys.joined(separator: ", "))")
    }
  }

  /// "500ms", "5s", "2min", "1h" (a number and a unit); nil otherwise.
  public static func duration(_ text: String) -> Duration? {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    for (unit, scale) in [("ms", 0.001), ("min", 60.0), ("s", 1.0), ("h", 3600.0)] {
      guard trimmed.hasSuffix(unit) else { continue }
      let number = trimmed.dropLast(unit.count).trimmingCharacters(in: .whitespaces)
      guard let amount = Double(number), amount >= 0, amount.isFinite else { return nil }
      return .milliseconds(Int64((amount * scale * 1000).rounded()))
    }
    return nil
  }

  /// A TOML value as a `Value`; arrays, tables and dates are refused.
  private static func value(of raw: any TOMLValueConvertible, key: String) throws -> Value {
    switch raw.type {
    case .string: return .string(raw.string ?? "")
    case .int: return .integer(raw.int ?? 0)
    case .double: return .double(raw.double ?? 0)
    case .bool: return .bool(raw.bool ?? false)
    default:
      throw DaemonError(
        .invalidConfiguration, key: key,
        "expected a string, number or true/false, got a TOML \(raw.type)")
    }
  }
}
