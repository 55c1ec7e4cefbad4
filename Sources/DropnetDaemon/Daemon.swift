import DropnetDataset
import DropnetExport
import DropnetJournal
import DropnetModel
import DropnetTraining
import DropnetWatch
import Foundation
import Logging

/// `dropnet serve`: watches the drop folder, extracts what changed, retrains after the folder
/// settles and republishes the CoreML model, as a systemd `Type=notify` service.
///
/// One thread runs the loop: the `FolderWatcher`'s decisions and the signals go into a
/// `ServicePlanner`, whose actions the loop carries out one at a time (extract, train a pass,
/// publish through the gate, reload). Other threads: the signal reader (SIGTERM during a
/// training pass abandons the pass, never a publish) and the watchdog.
///
/// A change during training: the pass finishes on the dataset snapshot it started with (the
/// loop does not extract while training), is published through the gate, and the change is
/// extracted and retrained right after, so no pass ever sees a half-updated dataset.
public final class Daemon {
  /// Where the configuration came from and what the command line set on top.
  public let configurationFile: String?
  public let overrides: [String: DaemonConfiguration.Value]
  /// The configuration in force.
  public private(set) var configuration: DaemonConfiguration
  /// The ImageNet base checkpoint (`dropnet weights import`).
  public let baseWeights: URL
  private var logger: Logger
  private let notifier = SystemdNotifier()
  private let phase = WorkerPhase()
  private var planner: ServicePlanner
  private var status: DaemonStatus
  private let fastPass = HeadTrainingPass()
  private var secondPass: TrainingPass
  private var base: Checkpoint?
  private var rescanPending = false

  /// Loads the configuration; throws `DaemonError` naming a bad key.
  public init(
    configurationFile: String?, overrides: [String: DaemonConfiguration.Value] = [:],
    baseWeights: URL, logger: Logger
  ) throws {
    self.configurationFile = configurationFile
    self.overrides = overrides
    self.baseWeights = baseWeights
    let configuration = try DaemonConfiguration.load(file: configurationFile, overrides: overrides)
    self.configuration = configuration
    self.logger = logger
    self.logger.logLevel = configuration.logLevel
    planner = ServicePlanner(twoSpeed: configuration.twoSpeed)
    secondPass = try TrainingPasses.make(mode: configuration.fineTune)
    status = DaemonStatus(pid: getpid(), state: "starting", line: "starting")
  }

  private var stateFolder: URL { URL(fileURLWithPath: configuration.stateFolder) }
  /// Compute threads: `compute.threads`, or every core when 0.
  private var threads: Int {
    configuration.threads > 0 ? configuration.threads : ProcessInfo.processInfo.activeProcessorCount
  }
  private var publisher: ModelPublisher {
    ModelPublisher(
      outputFolder: URL(fileURLWithPath: configuration.outputFolder),
      name: configuration.modelName, versionsKept: configuration.versionsKept,
      formats: configuration.formats,
      exportOptions: ExportOptions(
        author: "dropnet serve", dropnetVersion: DropnetVersion.string))
  }

  /// Runs until SIGTERM or SIGINT; throws when it cannot start (folders, lock, weights).
  public func run() throws {
    try FileManager.default.createDirectory(at: stateFolder, withIntermediateDirectories: true)
    let processFile = try DaemonProcessFile(stateFolder: stateFolder)
    defer { withExtendedLifetime(processFile) {} }
    if let previous = DaemonStatus.load(from: stateFolder) {
      status.trainedDigests = previous.trainedDigests
      status.lastTraining = previous.lastTraining
    }
    status.published = PublishedModel.load(from: stateFolder)
    if let manifest = try? Manifest.load(from: stateFolder) {
      status.classes = DaemonStatus.classes(of: manifest)
    }
    base = try readBase()

    let notifier = self.notifier
    let phase = self.phase
    let stateFolder = self.stateFolder
    let stopLogger = logger
    let stoppingStatus = status
    let mailbox = try SignalMailbox {
      _ = try? notifier.stopping()
      stopLogger.notice("stopping", metadata: ["event": "stopping"])
      phase.abandonTrainingWhenStopping {
        stopLogger.notice(
          "stopped during training: the pass is abandoned; the published model and its checkpoint are unchanged"
        )
        var stopped = stoppingStatus
        stopped.state = "stopped"
        stopped.line = "stopped (a training pass was abandoned)"
        _ = stopped.save(to: stateFolder)
      }
    }
    let watchdog = Watchdog(notifier: notifier)
    defer { watchdog.stop() }

    // Optional only so a reload can drop the old watcher before making the new one.
    var watcher: FolderWatcher? = try makeWatcher()
    var ready = false
    logger.info(
      "serving",
      metadata: [
        "drop": "\(configuration.dropFolder)", "state": "\(configuration.stateFolder)",
        "output": "\(configuration.outputFolder)",
      ])
    while true {
      for signal in mailbox.take() {
        logger.info("signal", metadata: ["signal": "\(signal.rawValue)"])
        planner.handle(.signal(signal))
      }
      let wait: Duration = planner.hasWork ? .milliseconds(1) : .milliseconds(250)
      guard let current = watcher else { return }
      for decision in try current.waitForDecisions(timeout: wait) {
        switch decision {
        case .fileComplete(let path), .fileRemoved(let path):
          logger.debug("changed", metadata: ["path": "\(path)"])
          planner.handle(.filesChanged)
        case .rescan(let reason):
          logger.info("rescan", metadata: ["reason": "\(reason.rawValue)"])
          rescanPending = true
          planner.handle(.rescanNeeded)
        case .retrain:
          planner.handle(.quiet)
        case .stat, .watchFolder:
          break
        }
      }
      if !ready {
        // The watches are in place and the start-up rescan is queued: changes from now on are
        // seen. Extraction (slow) happens after READY=1.
        ready = true
        updateStatus("idle", idleLine())
        _ = try? notifier.ready(status: status.line)
      }
      guard let action = planner.nextAction(filesSettling: !current.settlingPaths.isEmpty) else {
        continue
      }
      switch action {
      case .stop:
        phase.set(.finished)
        updateStatus("stopped", "stopped")
        _ = try? notifier.stopping()
        logger.notice("stopped")
        return
      case .reloadConfiguration:
        if reload() {
          // One watcher per process: the old one goes before the new one starts.
          watcher = nil
          watcher = try makeWatcher()
        }
        planner.handle(.reloaded)
      case .extract(let rebuild):
        extract(rebuild: rebuild, watcher: current, mailbox: mailbox)
      case .train(let pass, let reason):
        train(pass, reason: reason, mailbox: mailbox)
      }
      if !mailbox.isStopping { updateStatus("idle", idleLine()) }
    }
  }

  // MARK: Configuration

  /// Re-reads the configuration; a bad one is logged and the old one stays. True when the
  /// watcher must be made again (drop folder or timing changed).
  private func reload() -> Bool {
    _ = try? notifier.reloading()
    defer { _ = try? notifier.ready(status: status.line) }
    do {
      let new = try DaemonConfiguration.load(file: configurationFile, overrides: overrides)
      guard new.stateFolder == configuration.stateFolder else {
        throw DaemonError(
          .invalidConfiguration, key: "folders.state",
          "the state folder cannot change on reload; restart the service to move it")
      }
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: new.dropFolder, isDirectory: &isFolder),
        isFolder.boolValue
      else {
        throw DaemonError(
          .invalidConfiguration, key: "folders.drop",
          "\(new.dropFolder) is not a folder; create it first")
      }
      let newSecondPass =
        new.fineTune == configuration.fineTune
        ? secondPass : try TrainingPasses.make(mode: new.fineTune)
      let rewatch =
        new.dropFolder != configuration.dropFolder || new.settle != configuration.settle
        || new.debounce != configuration.debounce
      configuration = new
      secondPass = newSecondPass
      logger.logLevel = new.logLevel
      planner.twoSpeed = new.twoSpeed
      logger.notice("configuration reloaded", metadata: ["file": "\(configurationFile ?? "-")"])
      return rewatch
    } catch {
      logger.error(
        "configuration not reloaded, the previous one stays: \(error)",
        metadata: ["event": "error", "key": "\((error as? DaemonError)?.key ?? "")"])
      return false
    }
  }

  private func makeWatcher() throws -> FolderWatcher {
    try FolderWatcher(
      dropFolder: configuration.dropFolder,
      configuration: SettleMachine.Configuration(
        settlePeriod: configuration.settle, debouncePeriod: configuration.debounce))
  }

  private func readBase() throws -> Checkpoint {
    do {
      return try Checkpoint.read(from: baseWeights)
    } catch {
      throw DaemonError(
        .missingWeights,
        "cannot read the ImageNet base weights at \(baseWeights.path) (\(error)); import them "
          + "with `dropnet weights import FILE.pb` (or set DROPNET_WEIGHTS)")
    }
  }

  // MARK: Extraction

  private func extract(rebuild: Bool, watcher: FolderWatcher, mailbox: SignalMailbox) {
    phase.set(.extracting)
    defer { phase.set(.idle) }
    let fromRescan = rescanPending
    rescanPending = false
    if rebuild {
      logger.notice("rebuild: re-extracting every movie, then training from ImageNet weights")
      // Without a manifest every movie is extracted again; the sweep removes the old frames.
      try? FileManager.default.removeItem(at: stateFolder.appendingPathComponent(Manifest.fileName))
      fastPass.reset()
      secondPass.reset()
    }
    var settings = ExtractionSettings()
    settings.sampling = .rate(configuration.frameRate)
    settings.maximumFramesPerMovie = configuration.maximumFramesPerMovie
    settings.maximumSide = configuration.maximumSide
    settings.qualityFilter = configuration.qualityFilter
    var quietLogger = logger
    // The builder's own per-movie lines would double the daemon's events.
    quietLogger.logLevel = max(logger.logLevel, .warning)
    let builder = DatasetBuilder(
      dropFolder: URL(fileURLWithPath: configuration.dropFolder), stateFolder: stateFolder,
      settings: settings, logger: quietLogger)
    updateStatus("extracting", "extracting: scanning \(configuration.dropFolder)")
    do {
      let summary = try builder.run(
        events: { event in self.extractionEvent(event) },
        shouldStop: { mailbox.isStopping })
      status.classes = DaemonStatus.classes(of: summary.manifest)
      status.failedMovies = summary.manifest.failures.mapValues(\.message)
      let changed = !summary.extracted.isEmpty || !summary.removed.isEmpty || rebuild
      planner.handle(.extracted(changed: changed))
      let digest = DaemonStatus.digest(of: summary.manifest)
      let trainedDigest = status.trainedDigests[ServicePlanner.Pass.fast.rawValue]
      // Rescans (start-up, lost events) find changes the watcher did not report, and a
      // restart after a kill may find data that was never trained: both need a retrain.
      if fromRescan && !rebuild && (changed || digest != trainedDigest) {
        watcher.noteChange()
      }
    } catch {
      logger.error(
        "extraction failed: \(error)", metadata: ["event": "error"])
      planner.handle(.extracted(changed: false))
    }
  }

  private func extractionEvent(_ event: ExtractionEvent) {
    switch event {
    case .movieStarted(let path, let position, let total):
      updateStatus("extracting", "extracting \(position)/\(total): \(path)")
    case .movieExtracted(let record, let seconds):
      logger.info(
        "extracted \(record.path): \(record.keptFrames.count) frames kept",
        metadata: [
          "event": "extracted", "label": "\(record.label.name)", "movie": "\(record.path)",
          "frames": "\(record.keptFrames.count)", "seconds": "\(String(format: "%.1f", seconds))",
        ])
    case .movieFailed(let path, let error) where error.code == .changedWhileReading:
      // A copy still in progress (a rescan raced it): its close event brings it back.
      logger.info(
        "\(path) is still being written; it is read once the copy has finished",
        metadata: ["movie": "\(path)"])
    case .movieFailed(let path, let error):
      logger.error(
        "cannot extract \(path): \(error.message); the movie is left out, everything else goes on",
        metadata: ["event": "error", "movie": "\(path)"])
    case .movieRemoved(let path, let label):
      logger.info(
        "removed \(path)",
        metadata: ["event": "removed", "movie": "\(path)", "label": "\(label.name)"])
    case .labelError(let error):
      logger.error("label rejected: \(error)", metadata: ["event": "error"])
    case .skipped, .scanned, .decoding, .movieTouched:
      break
    }
  }

  // MARK: Training

  private func train(
    _ pass: ServicePlanner.Pass, reason: ServicePlanner.TrainingReason, mailbox: SignalMailbox
  ) {
    let manifest: Manifest
    do {
      manifest = try Manifest.load(from: stateFolder)
    } catch {
      logger.error("cannot train: \(error)", metadata: ["event": "error"])
      return
    }
    let classes = DaemonStatus.classes(of: manifest)
    status.classes = classes
    let digest = DaemonStatus.digest(of: manifest)
    if reason == .changed, status.trainedDigests[pass.rawValue] == digest {
      logger.debug("not training: the dataset is unchanged since the last \(pass.rawValue) pass")
      return
    }
    if let missing = Self.missingForTraining(classes, minimum: configuration.minimumFramesPerClass)
    {
      logger.notice(
        "not training: \(missing); the published model stays",
        metadata: ["reason": "\(missing)"])
      recordTraining(pass: pass, mode: "-", outcome: "skipped", reason: missing)
      status.trainedDigests[pass.rawValue] = digest
      return
    }
    guard let base else { return }
    let trainer: TrainingPass = pass == .fast ? fastPass : secondPass
    let publishedCheckpoint = try? Checkpoint.read(
      from: stateFolder.appendingPathComponent(PublishedModel.checkpointFileName))
    // A warm start continues the published head (classes added or dropped keep the other
    // rows); only from a model the same mode trained, since another mode changed the base the
    // head's features come from.
    let warm =
      reason != .rebuild
        && publishedCheckpoint?.metadata.extra[TrainingFacts.Key.fineTuneMode] == trainer.mode
      ? publishedCheckpoint : nil
    let epochs =
      pass == .fast
      ? configuration.fastEpochs
      : (warm != nil ? configuration.incrementalEpochs : configuration.freshEpochs)
    let frames = classes.reduce(0) { $0 + $1.frames }
    let passName = pass == .fast ? "fast pass" : "second pass"
    let warmText = warm != nil ? ", warm start" : ""
    logger.info(
      "training \(passName) (\(trainer.mode), \(epochs) epochs\(warmText)) on \(classes.count) classes, \(frames) frames",
      metadata: [
        "event": "training_started", "pass": "\(pass.rawValue)", "mode": "\(trainer.mode)",
        "epochs": "\(epochs)", "classes": "\(classes.count)", "frames": "\(frames)",
      ])
    recordTraining(pass: pass, mode: trainer.mode, outcome: "running", reason: nil)
    updateStatus(
      "training",
      "training \(passName) (\(trainer.mode), \(epochs) epochs): \(classes.count) classes, "
        + "\(frames) frames")
    let request = TrainingRequest(
      manifest: manifest, stateFolder: stateFolder, base: base, warmStart: warm, epochs: epochs,
      batchSize: configuration.batchSize,
      threads: threads,
      maximumFramesPerClass: configuration.maximumFramesPerClass > 0
        ? configuration.maximumFramesPerClass : nil,
      validationFraction: configuration.validationFraction, seed: pass == .fast ? 0 : 1,
      shouldStop: { mailbox.isStopping },
      progress: { [weak self] line in self?.updateStatus("training", line) })
    phase.set(.training)
    let outcome: TrainingOutcome
    do {
      outcome = try trainer.train(request)
      phase.set(.idle)
    } catch is TrainingPassStopped {
      phase.set(.idle)
      recordTraining(pass: pass, mode: trainer.mode, outcome: "failed", reason: "stopped")
      return
    } catch {
      phase.set(.idle)
      logger.error(
        "training failed: \(error); the published model stays", metadata: ["event": "error"])
      recordTraining(pass: pass, mode: trainer.mode, outcome: "failed", reason: "\(error)")
      return
    }
    for epoch in outcome.history.epochs {
      logger.info(
        "epoch \(epoch.epoch)/\(epochs): val acc \(PublishGate.format(epoch.validationAccuracy))",
        metadata: [
          "event": "epoch", "pass": "\(pass.rawValue)", "epoch": "\(epoch.epoch)",
          "loss": "\(epoch.loss)", "val_loss": "\(epoch.validationLoss)",
          "val_accuracy": "\(epoch.validationAccuracy)",
        ])
    }
    gateAndPublish(
      outcome, pass: pass, mode: trainer.mode, forced: reason == .rebuild, digest: digest,
      published: publishedCheckpoint)
    planner.handle(.trained(pass))
  }

  /// What keeps the dataset from training (fewer than 2 classes, a class with too few
  /// frames), in words; nil when it can train.
  public static func missingForTraining(_ classes: [DaemonStatus.ClassCount], minimum: Int)
    -> String?
  {
    if classes.count < 2 {
      let have = classes.map { "\($0.label) (\($0.frames) frames)" }.joined(separator: ", ")
      return "at least 2 classes are needed, the drop folder has \(classes.count)"
        + (have.isEmpty ? "" : ": \(have)") + "; add movies of another label"
    }
    let short = classes.filter { $0.frames < minimum }
    if !short.isEmpty {
      let list = short.map { "\($0.label) has \($0.frames)" }.joined(separator: ", ")
      return "every class needs at least \(minimum) frames (training.min_frames_per_class): "
        + "\(list); add longer or more movies"
    }
    return nil
  }

  private func gateAndPublish(
    _ outcome: TrainingOutcome, pass: ServicePlanner.Pass, mode: String, forced: Bool,
    digest: String, published: Checkpoint?
  ) {
    let record = status.published
    var scoredNow: Double?
    if let published, record != nil {
      scoredNow =
        (try? fastPass.score(published, against: outcome, threads: threads))
        ?? (try? secondPass.score(published, against: outcome, threads: threads)) ?? nil
    }
    let gate = PublishGate(enabled: configuration.gate, margin: configuration.gateMargin)
    let decision = gate.decide(
      candidateAccuracy: outcome.validationAccuracy,
      publishedAccuracy: scoredNow ?? record?.validationAccuracy,
      publishedScoredNow: scoredNow != nil,
      sameClasses: record.map {
        PublishGate.sameClasses(published: $0.labels, candidate: outcome.labels)
      } ?? false, forced: forced)
    let accuracy = "\(outcome.validationAccuracy)"
    guard decision.publish else {
      logger.notice(
        "rejected: \(decision.reason)",
        metadata: [
          "event": "rejected", "pass": "\(pass.rawValue)", "val_accuracy": "\(accuracy)",
          "published_val_accuracy": "\(scoredNow ?? record?.validationAccuracy ?? 0)",
          "model_version": "\(record?.version ?? 0)",
        ])
      recordTraining(
        pass: pass, mode: mode, outcome: "rejected", reason: decision.reason, result: outcome)
      status.trainedDigests[pass.rawValue] = digest
      return
    }
    do {
      let published = try phase.commit { () throws -> PublishedModel in
        updateStatus("publishing", "publishing \(configuration.modelName)")
        let summary = try publisher.publish(outcome.checkpoint)
        let model = PublishedModel(
          version: summary.exportVersion, labels: outcome.labels,
          validationAccuracy: outcome.validationAccuracy,
          validationLoss: outcome.validationLoss, pass: pass.rawValue, mode: mode,
          publishedAt: DaemonStatus.now(), datasetDigest: digest,
          modelSHA256: summary.modelSHA256)
        // The checkpoint first: a record always names a checkpoint at least as new.
        do {
          try outcome.checkpoint.write(
            to: stateFolder.appendingPathComponent(PublishedModel.checkpointFileName))
        } catch {
          throw DaemonError(.folder, "cannot keep the published checkpoint: \(error)")
        }
        try model.save(to: stateFolder)
        return model
      }
      status.published = published
      status.trainedDigests[pass.rawValue] = digest
      recordTraining(
        pass: pass, mode: mode, outcome: "published", reason: decision.reason, result: outcome)
      let shownAccuracy = PublishGate.format(published.validationAccuracy)
      logger.notice(
        "published \(configuration.modelName) v\(published.version) (\(published.labels.count) classes, val acc \(shownAccuracy)): \(decision.reason)",
        metadata: [
          "event": "published", "pass": "\(pass.rawValue)",
          "model_version": "\(published.version)", "val_accuracy": "\(accuracy)",
          "label": "\(published.labels.joined(separator: ","))",
        ])
    } catch {
      logger.error(
        "publishing failed: \(error)",
        metadata: ["event": "error", "pass": "\(pass.rawValue)"])
      recordTraining(
        pass: pass, mode: mode, outcome: "failed", reason: "publishing failed: \(error)",
        result: outcome)
    }
  }

  // MARK: Status

  private func recordTraining(
    pass: ServicePlanner.Pass, mode: String, outcome: String, reason: String?,
    result: TrainingOutcome? = nil
  ) {
    let now = DaemonStatus.now()
    var training =
      (outcome == "running" ? nil : status.lastTraining)
      ?? DaemonStatus.Training(
        pass: pass.rawValue, mode: mode, startedAt: now, outcome: outcome)
    training.pass = pass.rawValue
    training.mode = mode
    training.outcome = outcome
    training.reason = reason
    if outcome != "running" { training.finishedAt = now }
    if let result {
      training.epochs = result.history.epochs.count
      training.bestEpoch = result.bestEpoch
      training.validationAccuracy = result.validationAccuracy
      training.validationLoss = result.validationLoss
      training.seconds = result.seconds
    }
    status.lastTraining = training
    _ = status.save(to: stateFolder)
  }

  private func idleLine() -> String {
    let frames = status.classes.reduce(0) { $0 + $1.frames }
    var line = "idle: \(status.classes.count) classes, \(frames) frames"
    if let published = status.published {
      line +=
        ", model v\(published.version) (val acc \(PublishGate.format(published.validationAccuracy)))"
    } else {
      line += ", no model yet"
    }
    return line
  }

  private func updateStatus(_ state: String, _ line: String) {
    status.state = state
    status.line = line
    status.updatedAt = DaemonStatus.now()
    _ = status.save(to: stateFolder)
    _ = try? notifier.status(line)
  }
}
