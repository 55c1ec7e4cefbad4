import ArgumentParser
import DropnetDaemon
import DropnetJournal
import Foundation
import Logging

struct ServeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract: "Watch a drop folder, retrain when it changes, republish the models.",
    discussion: """
      The daemon (systemd/dropnet.service runs it). It watches the drop folder with inotify, \
      extracts each movie once it has been unchanged for `watch.settle`, and retrains after \
      the folder has been quiet for `watch.debounce` (a burst of movies gives one retrain). \
      Training has two speeds: a fast head-only pass on cached features is published first, \
      then the second pass (`training.fine_tune`) is published if the gate lets it through.

      Publishing: OUTPUT/<name>.mlmodel, .onnx and .tflite (`model.formats`) and <name>.json \
      are replaced atomically, all of one version, the summary last (a reader never sees a \
      partial file), OUTPUT/versions/<name>-<version>.<format> keeps the last \
      `model.versions_kept`. Publish gate: a retrained model replaces the published one only \
      if its validation accuracy is not worse (minus `publish.gate_margin`) than the \
      published model's, scored again on the current validation set (else its stored \
      accuracy); a class change always passes. `training.fine_tune`: head (default, seconds), \
      bn, top:K or all (the base too: minutes to tens of minutes on 2 cores).

      Signals: SIGHUP (systemctl reload dropnet) re-reads the configuration (a bad file is \
      refused and the old configuration stays), rescans and retrains now. SIGUSR1 \
      (`dropnet rebuild`) re-extracts every movie and trains from ImageNet, bypassing the \
      gate. SIGTERM/SIGINT stop: between pieces of work, or at the next batch boundary of a \
      training pass (nothing of it is kept); a publish is never cut. Repeated signals \
      coalesce. A change during training: the pass finishes on the dataset it started with, \
      then the change is extracted and retrained.

      Under systemd: READY=1 once watching, STATUS= kept current, WATCHDOG=1 from its own \
      thread, STOPPING=1. Logs go to journald with DROPNET_EVENT=extracted, removed, waiting, \
      training_started, epoch, published, rejected, error, stopping (try `journalctl -u dropnet DROPNET_EVENT=published`), \
      or to stderr without journald. `dropnet status --state DIR` shows the daemon's view.

      Configuration: --config FILE (TOML, every key in systemd/dropnet.toml); each flag \
      below overrides its key.
      """
  )

  @Option(name: .long, help: "The TOML configuration file (default: built-in defaults).")
  var config: String?

  @Option(name: .long, help: "folders.drop: the watched drop folder.")
  var drop: String?
  @Option(name: .long, help: "folders.state: manifest, frames, checkpoints, status.json.")
  var state: String?
  @Option(name: .long, help: "folders.output: where the model is published.")
  var output: String?
  @Option(
    name: .long,
    help: "folders.heldout: held-out photos, <label>/<photo> (default: DROP/.heldout).")
  var heldout: String?
  @Option(name: .long, help: "model.name: the published file is <name>.mlmodel.")
  var name: String?
  @Option(name: .long, help: "model.versions_kept: versions kept in OUTPUT/versions.")
  var versionsKept: Int?
  @Option(name: .long, help: "model.formats: published formats (\"mlmodel,onnx,tflite\").")
  var formats: String?
  @Option(name: .long, help: "extraction.frame_rate: frames sampled per second.")
  var frameRate: Double?
  @Option(name: .long, help: "extraction.max_frames: most frames sampled per movie.")
  var maxFrames: Int?
  @Option(name: .long, help: "extraction.max_side: longest side of a stored frame, in pixels.")
  var maxSide: Int?
  @Option(
    name: .long, help: "extraction.quality_filter: drop blurred and near-duplicate frames.")
  var qualityFilter: Bool?
  @Option(name: .long, help: "training.fine_tune: the second pass's mode (head).")
  var fineTune: String?
  @Option(name: .long, help: "training.fast_epochs: epochs of the fast pass.")
  var fastEpochs: Int?
  @Option(name: .long, help: "training.epochs_fresh: second-pass epochs from ImageNet.")
  var epochsFresh: Int?
  @Option(name: .long, help: "training.epochs_incremental: second-pass epochs when warm-starting.")
  var epochsIncremental: Int?
  @Option(name: .long, help: "training.batch_size: examples per SGD step.")
  var batchSize: Int?
  @Option(name: .long, help: "training.threads: compute threads (0 = one per core).")
  var threads: Int?
  @Option(name: .long, help: "training.min_frames_per_class: frames every class needs.")
  var minFramesPerClass: Int?
  @Option(name: .long, help: "training.max_frames_per_class: frames used per class (0 = all).")
  var maxFramesPerClass: Int?
  @Option(name: .long, help: "training.validation_fraction: share of each class held out.")
  var validationFraction: Double?
  @Option(name: .long, help: "training.two_speed: fast pass first (true/false).")
  var twoSpeed: Bool?
  @Option(
    name: .long, help: "training.augmented_copies: augmented copies cached per frame (head).")
  var augmentedCopies: Int?
  @Option(name: .long, help: "training.framing: center_crop (Vision's default) or scale_fill.")
  var framing: String?
  @Option(name: .long, help: "training.precision: auto, float32 or bfloat16.")
  var precision: String?
  @Option(name: .long, help: "publish.gate: refuse models worse than the published one.")
  var gate: Bool?
  @Option(name: .long, help: "publish.gate_margin: accuracy a new model may lose.")
  var gateMargin: Double?
  @Option(name: .long, help: "watch.settle: unchanged time before a file counts (\"5s\").")
  var settle: String?
  @Option(name: .long, help: "watch.debounce: quiet time before retraining (\"30s\").")
  var debounce: String?
  @Option(name: .long, help: "log.level: trace, debug, info, notice, warning, error.")
  var logLevel: String?
  @Option(name: .long, help: "Base weights (default: the imported ImageNet weights).")
  var weights: String?
  @Flag(
    name: .long,
    help:
      "Process the drop folder once (extract, train, publish, without waiting for the folder to settle) and exit: for cron, CI and trying dropnet out. Exit status 0 when a model is published (or was already up to date), 1 when nothing could be."
  )
  var once = false

  /// The flags given, as configuration keys.
  var overrides: [String: DaemonConfiguration.Value] {
    var values: [String: DaemonConfiguration.Value] = [:]
    func put(_ key: String, _ value: DaemonConfiguration.Value?) { values[key] = value }
    put("folders.drop", drop.map { .string(Self.absolute($0)) })
    put("folders.state", state.map { .string(Self.absolute($0)) })
    put("folders.output", output.map { .string(Self.absolute($0)) })
    put("folders.heldout", heldout.map { .string(Self.absolute($0)) })
    put("model.name", name.map { .string($0) })
    put("model.versions_kept", versionsKept.map { .integer($0) })
    put("model.formats", formats.map { .string($0) })
    put("extraction.frame_rate", frameRate.map { .double($0) })
    put("extraction.max_frames", maxFrames.map { .integer($0) })
    put("extraction.max_side", maxSide.map { .integer($0) })
    put("extraction.quality_filter", qualityFilter.map { .bool($0) })
    put("training.fine_tune", fineTune.map { .string($0) })
    put("training.fast_epochs", fastEpochs.map { .integer($0) })
    put("training.epochs_fresh", epochsFresh.map { .integer($0) })
    put("training.epochs_incremental", epochsIncremental.map { .integer($0) })
    put("training.batch_size", batchSize.map { .integer($0) })
    put("training.threads", threads.map { .integer($0) })
    put("training.min_frames_per_class", minFramesPerClass.map { .integer($0) })
    put("training.max_frames_per_class", maxFramesPerClass.map { .integer($0) })
    put("training.validation_fraction", validationFraction.map { .double($0) })
    put("training.two_speed", twoSpeed.map { .bool($0) })
    put("training.augmented_copies", augmentedCopies.map { .integer($0) })
    put("training.framing", framing.map { .string($0) })
    put("training.precision", precision.map { .string($0) })
    put("publish.gate", gate.map { .bool($0) })
    put("publish.gate_margin", gateMargin.map { .double($0) })
    put("watch.settle", settle.map { .string($0) })
    put("watch.debounce", debounce.map { .string($0) })
    put("log.level", logLevel.map { .string($0) })
    return values
  }

  func run() throws {
    LoggingSystem.bootstrap { JournalLogHandler(label: $0) }
    let logger = Logger(label: "dropnet.serve")
    do {
      let daemon = try Daemon(
        configurationFile: config, overrides: overrides,
        baseWeights: weights.map { URL(fileURLWithPath: $0) } ?? WeightsLocation.imagenet,
        logger: logger, once: once)
      let notifier = SystemdNotifier()
      let signals = try SignalMailbox {
        // At once, from the signal thread: systemd sees the stop begin while a pass ends.
        _ = try? notifier.stopping()
        logger.notice("stopping", metadata: ["event": "stopping"])
      }
      try daemon.run(signals: signals)
    } catch let error as DaemonError where error.code == .trainingFailed {
      // --once could not publish (too little data, a failed pass): said in the log already.
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(1)
    } catch let error as DaemonError {
      logger.critical("cannot serve: \(error)", metadata: ["event": "error"])
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(2)
    } catch {
      logger.critical("cannot serve: \(error)", metadata: ["event": "error"])
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }

  static func absolute(_ path: String) -> String {
    path.hasPrefix("/")
      ? path
      : URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        .appendingPathComponent(path).standardizedFileURL.path
  }
}
