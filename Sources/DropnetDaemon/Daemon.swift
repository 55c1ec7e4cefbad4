import DropnetDataset
import DropnetEngine
import DropnetExport
import DropnetJournal
import DropnetModel
import DropnetReport
import DropnetTraining
import DropnetWatch
import Foundation
import Logging

/// `dropnet serve`: watches the drop folder, extracts what changed, retrains after the folder
/// settles and republishes the model, as a systemd `Type=notify` service. It only composes:
/// the `ServicePlanner` decides what to do next, the `TrainingPlanner` how a pass trains, the
/// `PublishGate` whether it is published; the watcher and the passes are injected (`Parts`).
///
/// One thread runs the loop and carries out one action at a time (extract, train a pass,
/// publish, reload). Other threads: the signal reader and the watchdog. A stop request ends a
/// training pass at its next batch boundary (nothing of it is kept) and never cuts a publish.
///
/// A change during training: the pass finishes on the dataset snapshot it started with (the
/// loop does not extract while training), is published through the gate, and the change is
/// extracted and retrained right after, so no pass ever sees a half-updated dataset.
public final class Daemon {
  /// The parts the daemon composes; tests replace them.
  public struct Parts {
    /// A watcher for the configured drop folder and timings.
    public var makeWatcher: (DaemonConfiguration) throws -> DropWatching
    /// A training pass for a mode.
    public var makePass: (FineTuneMode) -> TrainingPass

    public init(
      makeWatcher: @escaping (DaemonConfiguration) throws -> DropWatching,
      makePass: @escaping (FineTuneMode) -> TrainingPass
    ) {
      self.makeWatcher = makeWatcher
      self.makePass = makePass
    }

    /// inotify and `ModelTrainingPass`.
    public static var system: Parts {
      Parts(
        makeWatcher: { configuration in
          try FolderWatcher(
            dropFolder: configuration.dropFolder,
            configuration: SettleMachine.Configuration(
              settlePeriod: configuration.settle, debouncePeriod: configuration.debounce))
        },
        makePass: { ModelTrainingPass(mode: $0) })
    }
  }

  /// Where the configuration came from and what the command line set on top.
  public let configurationFile: String?
  public let overrides: [String: DaemonConfiguration.Value]
  /// The configuration in force.
  public private(set) var configuration: DaemonConfiguration
  /// The ImageNet base checkpoint (`dropnet weights import`).
  public let baseWeights: URL
  /// Run until the drop folder is extracted, trained and published, then return (cron, CI,
  /// the example) rather than watch for changes.
  public let once: Bool
  private var logger: Logger
  private let parts: Parts
  private let notifier = SystemdNotifier()
  private var planner: ServicePlanner
  private var status: DaemonStatus
  private let fastPass: TrainingPass
  private var secondPass: TrainingPass
  private var base: Checkpoint?
  /// Set in `once` mode when a pass failed or there was not enough data.
  private var onceFailure: String?

  /// Loads the configuration; throws `DaemonError` naming a bad key.
  public init(
    configurationFile: String?, overrides: [String: DaemonConfiguration.Value] = [:],
    baseWeights: URL, logger: Logger, once: Bool = false, parts: Parts = .system
  ) throws {
    self.configurationFile = configurationFile
    self.overrides = overrides
    self.baseWeights = baseWeights
    self.once = once
    self.parts = parts
    let configuration = try DaemonConfiguration.load(file: configurationFile, overrides: overrides)
    self.configuration = configuration
    self.logger = logger
    self.logger.logLevel = configuration.logLevel
    planner = ServicePlanner(twoSpeed: configuration.twoSpeed)
    fastPass = parts.makePass(.head)
    secondPass = parts.makePass(configuration.fineTune)
    status = DaemonStatus(pid: getpid(), state: .starting, line: "starting")
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
  private var trainingPlanner: TrainingPlanner { TrainingPlanner(configuration) }

  /// Runs until `signals` says stop (SIGTERM or SIGINT), or in `once` mode until everything
  /// is published; throws when it cannot start (folders, lock, weights), and in `once` mode
  /// when nothing could be published.
  public func run(signals: SignalMailbox) throws {
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
    let watchdog = Watchdog(notifier: notifier)
    defer { watchdog.stop() }

    // Optional only so a reload can drop the old watcher before making the new one.
    var watcher: DropWatching? = try parts.makeWatcher(configuration)
    var ready = false
    logger.info(
      "serving",
      metadata: [
        "drop": "\(configuration.dropFolder)", "state": "\(configuration.stateFolder)",
        "output": "\(configuration.outputFolder)",
      ])
    while true {
      for signal in signals.take() {
        logger.notice("\(Self.describe(signal))", metadata: ["signal": "\(signal.rawValue)"])
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
        updateStatus(.idle, idleLine())
        _ = try? notifier.ready(status: status.line)
      }
      let settling = !current.settlingPaths.isEmpty
      guard let action = planner.nextAction(filesSettling: settling) else {
        if once && !settling {
          try finishOnce()
          return
        }
        continue
      }
      switch action {
      case .stop:
        updateStatus(.stopped, "stopped")
        _ = try? notifier.stopping()
        logger.notice("stopped")
        return
      case .reloadConfiguration:
        if reload() {
          // One watcher per process: the old one goes before the new one starts.
          watcher = nil
          watcher = try parts.makeWatcher(configuration)
        }
        planner.handle(.reloaded)
      case .extract(let rebuild, let rescan):
        extract(rebuild: rebuild, rescan: rescan, watcher: current, signals: signals)
        // Once: no debounce, the folder is taken as it is now.
        if once && !rebuild { planner.handle(.quiet) }
      case .train(let pass, let reason):
        train(pass, reason: reason, signals: signals)
      }
      if !signals.isStopping { updateStatus(.idle, idleLine()) }
    }
  }

  /// What a signal does, for the journal.
  static func describe(_ signal: ServicePlanner.Signal) -> String {
    switch signal {
    case .reload: "SIGHUP: re-reading the configuration, rescanning and retraining now"
    case .rebuild: "SIGUSR1: rebuilding (re-extracting every movie, training from ImageNet)"
    case .stop: "stop requested: stopping at the next batch boundary"
    }
  }

  /// `once` mode's end: an error when nothing could be trained and published.
  private func finishOnce() throws {
    updateStatus(.stopped, "stopped (once)")
    if let onceFailure, status.published == nil {
      throw DaemonError(.trainingFailed, onceFailure)
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
      let rewatch =
        new.dropFolder != configuration.dropFolder || new.settle != configuration.settle
        || new.debounce != configuration.debounce
      if new.fineTune != configuration.fineTune { secondPass = parts.makePass(new.fineTune) }
      configuration = new
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

  private func extract(
    rebuild: Bool, rescan: Bool, watcher: DropWatching, signals: SignalMailbox
  ) {
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
    updateStatus(.extracting, "extracting: scanning \(configuration.dropFolder)")
    do {
      let summary = try builder.run(
        events: { event in self.extractionEvent(event) },
        shouldStop: { signals.isStopping })
      status.classes = DaemonStatus.classes(of: summary.manifest)
      status.failedMovies = summary.manifest.failures.mapValues(\.message)
      let changed = !summary.extracted.isEmpty || !summary.removed.isEmpty || rebuild
      planner.handle(.extracted(changed: changed))
      let digest = DaemonStatus.digest(of: summary.manifest)
      let trainedDigest = status.trainedDigests[ServicePlanner.Pass.fast.rawValue]
      // Rescans (start-up, lost events) find changes the watcher did not report, and a
      // restart after a kill may find data that was never trained: both need a retrain.
      if rescan && !rebuild && (changed || digest != trainedDigest) {
        watcher.noteChange()
      }
    } catch {
      logger.error("extraction failed: \(error)", metadata: ["event": "error"])
      planner.handle(.extracted(changed: false))
    }
  }

  private func extractionEvent(_ event: ExtractionEvent) {
    switch event {
    case .movieStarted(let path, let position, let total):
      updateStatus(.extracting, "extracting \(position)/\(total): \(path)")
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
    _ pass: ServicePlanner.Pass, reason: ServicePlanner.TrainingReason, signals: SignalMailbox
  ) {
    defer { planner.handle(.trained(pass)) }
    let manifest: Manifest
    do {
      manifest = try Manifest.load(from: stateFolder)
    } catch {
      logger.error("cannot train: \(error)", metadata: ["event": "error"])
      onceFailure = "cannot train: \(error)"
      return
    }
    let classes = DaemonStatus.classes(of: manifest)
    status.classes = classes
    let digest = DaemonStatus.digest(of: manifest)
    let publishedCheckpoint = try? Checkpoint.read(
      from: stateFolder.appendingPathComponent(PublishedModel.checkpointFileName))
    let decision = trainingPlanner.decide(
      pass: pass, reason: reason, classes: classes, digest: digest,
      trainedDigest: status.trainedDigests[pass.rawValue],
      publishedMode: publishedCheckpoint.flatMap {
        FineTuneMode($0.metadata.extra[TrainingFacts.Key.fineTuneMode] ?? "")
      })
    let plan: TrainingPlan
    switch decision {
    case .unchanged:
      logger.debug("not training: the dataset is unchanged since the last \(pass.rawValue) pass")
      return
    case .notEnoughData(let missing):
      logger.notice(
        "not training: \(missing); the published model stays", metadata: ["reason": "\(missing)"])
      recordTraining(pass: pass, mode: nil, outcome: .skipped, reason: missing)
      status.trainedDigests[pass.rawValue] = digest
      onceFailure = "not training: \(missing)"
      return
    case .train(let planned):
      plan = planned
    }
    status.waitingClasses = Dictionary(
      uniqueKeysWithValues: plan.waiting.map {
        ($0.label, "\($0.frames) of \(configuration.minimumFramesPerClass) frames")
      })
    if let waiting = TrainingPlanner.waitingText(
      plan.waiting, minimum: configuration.minimumFramesPerClass)
    {
      logger.notice(
        "training without \(plan.waiting.map(\.label).joined(separator: ", ")): \(waiting)",
        metadata: [
          "event": "waiting", "label": "\(plan.waiting.map(\.label).joined(separator: ","))",
        ])
    }
    guard let base else { return }
    let trainer: TrainingPass = pass == .fast ? fastPass : secondPass
    let trained = Set(plan.classes)
    var snapshot = manifest
    snapshot.movies = manifest.movies.filter { trained.contains($0.value.label.name) }
    let frames = classes.filter { trained.contains($0.label) }.reduce(0) { $0 + $1.frames }
    let passName = pass == .fast ? "fast pass" : "second pass"
    let warmText = plan.warmStart ? ", warm start" : ""
    logger.info(
      "training \(passName) (\(plan.mode), \(plan.epochs) epochs\(warmText)) on \(plan.classes.count) classes, \(frames) frames",
      metadata: [
        "event": "training_started", "pass": "\(pass.rawValue)", "mode": "\(plan.mode)",
        "epochs": "\(plan.epochs)", "classes": "\(plan.classes.count)", "frames": "\(frames)",
      ])
    recordTraining(pass: pass, mode: plan.mode, outcome: .running, reason: nil)
    updateStatus(
      .training,
      "training \(passName) (\(plan.mode), \(plan.epochs) epochs): \(plan.classes.count) "
        + "classes, \(frames) frames")
    let request = TrainingRequest(
      manifest: snapshot, stateFolder: stateFolder, base: base, published: publishedCheckpoint,
      plan: plan, batchSize: configuration.batchSize, threads: threads,
      maximumFramesPerClass: configuration.maximumFramesPerClass > 0
        ? configuration.maximumFramesPerClass : nil,
      validationFraction: configuration.validationFraction, framing: configuration.framing,
      precision: Precision(setting: configuration.precision) ?? .float32,
      augmentedCopies: configuration.augmentedCopies, shouldStop: { signals.isStopping },
      progress: { [weak self] line in self?.updateStatus(.training, line) })
    let outcome: TrainingOutcome
    do {
      outcome = try trainer.train(request)
    } catch is TrainingPassStopped {
      logger.notice(
        "stopped during training: the pass is abandoned; the published model and its checkpoint are unchanged"
      )
      recordTraining(pass: pass, mode: plan.mode, outcome: .stopped, reason: "stopped")
      return
    } catch {
      logger.error(
        "training failed: \(error); the published model stays", metadata: ["event": "error"])
      recordTraining(pass: pass, mode: plan.mode, outcome: .failed, reason: "\(error)")
      onceFailure = "training failed: \(error)"
      return
    }
    for epoch in outcome.history.epochs {
      logger.info(
        "epoch \(epoch.epoch)/\(plan.epochs): val acc \(PublishGate.format(epoch.validationAccuracy))",
        metadata: [
          "event": "epoch", "pass": "\(pass.rawValue)", "epoch": "\(epoch.epoch)",
          "loss": "\(epoch.loss)", "val_loss": "\(epoch.validationLoss)",
          "val_accuracy": "\(epoch.validationAccuracy)",
        ])
    }
    gateAndPublish(
      outcome, plan: plan, trainer: trainer, digest: digest, published: publishedCheckpoint)
  }

  private func gateAndPublish(
    _ outcome: TrainingOutcome, plan: TrainingPlan, trainer: TrainingPass, digest: String,
    published: Checkpoint?
  ) {
    let pass = plan.pass
    let record = status.published
    var scoredNow: Double?
    if let published, record != nil, !plan.bypassesGate {
      do {
        scoredNow = try trainer.score(published, against: outcome, threads: threads)
      } catch {
        logger.warning(
          "cannot score the published model on the current validation frames (\(error)); the gate compares with its stored accuracy"
        )
      }
    }
    // Held-out photos, when there are some, judge both models as the phone would.
    let heldOut = heldOutScores(candidate: outcome.checkpoint, published: published)
    let onHeldOut = heldOut.candidate != nil && (heldOut.published != nil || record == nil)
    let gate = PublishGate(enabled: configuration.gate, margin: configuration.gateMargin)
    let candidateFigure = onHeldOut ? heldOut.candidate!.accuracy : outcome.validationAccuracy
    let publishedFigure =
      onHeldOut ? heldOut.published?.accuracy : (scoredNow ?? record?.validationAccuracy)
    let decision = gate.decide(
      candidateAccuracy: candidateFigure, publishedAccuracy: publishedFigure,
      publishedScoredNow: onHeldOut || scoredNow != nil,
      sameClasses: record.map {
        PublishGate.sameClasses(published: $0.labels, candidate: outcome.labels)
      } ?? false, forced: plan.bypassesGate, onHeldOutPhotos: onHeldOut)
    let heldOutText = heldOut.candidate.map { "\($0.accuracy)" } ?? ""
    let accuracy = "\(outcome.validationAccuracy)"
    guard decision.publish else {
      logger.notice(
        "rejected: \(decision.reason)",
        metadata: [
          "event": "rejected", "pass": "\(pass.rawValue)", "val_accuracy": "\(accuracy)",
          "heldout_accuracy": "\(heldOutText)",
          "published_val_accuracy": "\(scoredNow ?? record?.validationAccuracy ?? 0)",
          "model_version": "\(record?.version ?? 0)",
        ])
      recordTraining(
        pass: pass, mode: plan.mode, outcome: .rejected, reason: decision.reason,
        result: outcome)
      status.trainedDigests[pass.rawValue] = digest
      return
    }
    do {
      updateStatus(.publishing, "publishing \(configuration.modelName)")
      var checkpoint = outcome.checkpoint
      checkpoint.metadata.extra[HeldOutPhotos.accuracyKey] = heldOut.candidate.map {
        String($0.accuracy)
      }
      let cards = ModelCardMaker(
        stateFolder: stateFolder, outputFolder: URL(fileURLWithPath: configuration.outputFolder),
        name: configuration.modelName)
      var card: ModelCard?
      let summary = try publisher.publish(checkpoint) { summary in
        do {
          card = try cards.card(
            outcome, pass: pass, mode: plan.mode,
            gate: ModelCard.Gate(
              verdict: decision.reason,
              measure: onHeldOut ? "held-out accuracy" : "validation accuracy",
              candidate: candidateFigure, published: publishedFigure),
            heldOut: heldOut.candidate, summary: summary)
          return card.map(cards.pages)
        } catch {
          logger.warning("the model is published without its model card page: \(error)")
          return nil
        }
      }
      let model = PublishedModel(
        version: summary.exportVersion, labels: outcome.labels,
        validationAccuracy: outcome.validationAccuracy, validationLoss: outcome.validationLoss,
        pass: pass, mode: plan.mode, publishedAt: DaemonStatus.now(), datasetDigest: digest,
        modelSHA256: summary.modelSHA256, heldOutAccuracy: heldOut.candidate?.accuracy)
      // The checkpoint first: a record always names a checkpoint at least as new.
      do {
        try checkpoint.write(
          to: stateFolder.appendingPathComponent(PublishedModel.checkpointFileName))
      } catch {
        throw DaemonError(.folder, "cannot keep the published checkpoint: \(error)")
      }
      try model.save(to: stateFolder)
      status.published = model
      if let card {
        do {
          try cards.archive.save(card)
          cards.archive.prune(keeping: Set(publisher.versions()))
        } catch {
          logger.warning("later model card pages will not list v\(model.version): \(error)")
        }
      }
      status.trainedDigests[pass.rawValue] = digest
      recordTraining(
        pass: pass, mode: plan.mode, outcome: .published, reason: decision.reason,
        result: outcome)
      let shownAccuracy = PublishGate.format(model.validationAccuracy)
      logger.notice(
        "published \(configuration.modelName) v\(model.version) (\(model.labels.count) classes, val acc \(shownAccuracy)): \(decision.reason)",
        metadata: [
          "event": "published", "pass": "\(pass.rawValue)",
          "model_version": "\(model.version)", "val_accuracy": "\(accuracy)",
          "heldout_accuracy": "\(heldOutText)", "label": "\(model.labels.joined(separator: ","))",
        ])
    } catch {
      logger.error(
        "publishing failed: \(error)", metadata: ["event": "error", "pass": "\(pass.rawValue)"])
      recordTraining(
        pass: pass, mode: plan.mode, outcome: .failed, reason: "publishing failed: \(error)",
        result: outcome)
      onceFailure = "publishing failed: \(error)"
    }
  }

  /// The held-out photos' scores of the candidate and the published model (nil where there
  /// are no photos of its classes, or they cannot be read: logged).
  private func heldOutScores(candidate: Checkpoint, published: Checkpoint?) -> (
    candidate: HeldOutPhotos.Score?, published: HeldOutPhotos.Score?
  ) {
    let photos = HeldOutPhotos(folder: URL(fileURLWithPath: configuration.resolvedHeldOutFolder))
    guard !photos.isEmpty else { return (nil, nil) }
    func score(_ checkpoint: Checkpoint, _ which: String) -> HeldOutPhotos.Score? {
      do {
        return try photos.score(checkpoint, threads: threads)
      } catch {
        logger.warning(
          "cannot score the \(which) model on the held-out photos in \(configuration.resolvedHeldOutFolder): \(error)"
        )
        return nil
      }
    }
    let candidateScore = score(candidate, "new")
    if let candidateScore {
      logger.info(
        "held-out photos: \(candidateScore.correct)/\(candidateScore.total) right",
        metadata: ["heldout_accuracy": "\(candidateScore.accuracy)"])
    }
    return (candidateScore, published.flatMap { score($0, "published") })
  }

  // MARK: Status

  private func recordTraining(
    pass: ServicePlanner.Pass, mode: FineTuneMode?, outcome: DaemonStatus.Outcome,
    reason: String?, result: TrainingOutcome? = nil
  ) {
    let now = DaemonStatus.now()
    var training =
      (outcome == .running ? nil : status.lastTraining)
      ?? DaemonStatus.Training(pass: pass, mode: mode, startedAt: now, outcome: outcome)
    training.pass = pass
    training.mode = mode
    training.outcome = outcome
    training.reason = reason
    if outcome != .running { training.finishedAt = now }
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
        ", model v\(published.version) (val acc \(PublishGate.format(published.validationAccuracy))"
        + (published.heldOutAccuracy.map { ", held-out \(PublishGate.format($0))" } ?? "") + ")"
    } else {
      line += ", no model yet"
    }
    if !status.waitingClasses.isEmpty {
      line += "; waiting for frames: " + status.waitingClasses.keys.sorted().joined(separator: ", ")
    }
    return line
  }

  private func updateStatus(_ state: DaemonStatus.State, _ line: String) {
    status.state = state
    status.line = line
    status.updatedAt = DaemonStatus.now()
    _ = status.save(to: stateFolder)
    _ = try? notifier.status(line)
  }
}
