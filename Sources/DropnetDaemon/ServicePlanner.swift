/// What the daemon does next, decided from what happened: pure, no threads, no clock, no
/// files, so tests drive it with tables of inputs.
///
/// Timing (settling files, the debounce quiet period) is the `SettleMachine`'s job; the
/// planner gets its decisions (`.filesChanged`, `.rescanNeeded`, `.quiet`), the signals and
/// the outcome of each piece of work, and answers `nextAction` whenever the daemon is free.
///
/// Rules:
/// - Stop wins over everything; then a configuration reload; then a rebuild.
/// - Extraction waits until no file is settling (a half-copied movie is never read), and
///   always runs before training: a pass never trains on a half-updated dataset.
/// - Training starts when the folder has been quiet (`.quiet`), or at once after a reload
///   (SIGHUP: "retrain now") or a rebuild. With two speeds, the fast pass comes first and the
///   second pass follows it, unless new changes arrived meanwhile (they restart the cycle).
/// - Repeated signals coalesce: ten SIGHUPs while training give one reload and one retrain.
/// - Work is not interrupted by changes: a pass runs to its end on the snapshot it started
///   with (the daemon works on one thread), and the changes that arrived meanwhile are
///   handled right after it.
public struct ServicePlanner: Sendable, Equatable {
  /// The two speeds of retraining.
  public enum Pass: String, Codable, Sendable, Hashable {
    /// Head only, on cached features: publishes quickly.
    case fast
    /// The configured fine-tune, published through the gate if better.
    case full
  }

  /// A signal the daemon received.
  public enum Signal: String, Sendable, Hashable {
    /// SIGHUP: re-read the configuration, rescan, retrain now.
    case reload
    /// SIGUSR1 (`dropnet rebuild`): re-extract everything, train from ImageNet, skip the gate.
    case rebuild
    /// SIGTERM or SIGINT.
    case stop
  }

  /// Something that happened.
  public enum Input: Sendable, Hashable {
    /// The watcher saw a movie complete or removed.
    case filesChanged
    /// The watcher lost track (start-up, queue overflow, a folder removed): compare everything.
    case rescanNeeded
    /// The folder has been quiet for the debounce period since the last change.
    case quiet
    /// A signal arrived.
    case signal(Signal)
    /// The configuration was re-read (successfully or not).
    case reloaded
    /// An extraction run finished; `changed` when the dataset is different now.
    case extracted(changed: Bool)
    /// A training pass finished (published, rejected, skipped or failed).
    case trained(Pass)
  }

  /// Why a pass trains.
  public enum TrainingReason: String, Sendable, Hashable {
    /// The folder changed and settled: skipped when the dataset is the one last trained.
    case changed
    /// SIGHUP asked to retrain now: trains even on an unchanged dataset (through the gate).
    case requested
    /// A rebuild: from ImageNet weights, bypassing the gate.
    case rebuild
  }

  /// Work for the daemon.
  public enum Action: Sendable, Hashable {
    /// Stop: nothing more starts.
    case stop
    /// Re-read the configuration file.
    case reloadConfiguration
    /// Bring the dataset up to date; `rebuild` re-extracts every movie; `rescan` when the
    /// watcher lost track (start-up, lost events), so changes it never reported need a retrain.
    case extract(rebuild: Bool, rescan: Bool)
    /// Train a pass.
    case train(Pass, reason: TrainingReason)
  }

  /// Whether a fast pass comes before the configured one.
  public var twoSpeed: Bool

  public private(set) var stopRequested = false
  public private(set) var reloadRequested = false
  public private(set) var rebuildRequested = false
  /// The dataset may differ from the drop folder.
  public private(set) var extractionDue = false
  /// The next extraction follows a rescan.
  public private(set) var rescanPending = false
  /// The next extraction re-extracts everything.
  public private(set) var rebuildExtractionDue = false
  /// A retrain is due (quiet period over, reload, rebuild).
  public private(set) var trainingDue = false
  /// The next training bypasses the gate and starts from ImageNet.
  public private(set) var forcedTrainingDue = false
  /// The next training was asked for by SIGHUP.
  public private(set) var requestedTrainingDue = false
  /// The second pass follows the fast one.
  public private(set) var secondPassDue = false
  /// Why the fast pass before it trained: the second pass trains for the same reason (a
  /// reload retrains both passes, a rebuild rebuilds both).
  public private(set) var secondPassReason = TrainingReason.changed

  /// A planner with nothing to do.
  public init(twoSpeed: Bool) {
    self.twoSpeed = twoSpeed
  }

  /// Takes one input.
  public mutating func handle(_ input: Input) {
    switch input {
    case .filesChanged, .rescanNeeded:
      extractionDue = true
      if input == .rescanNeeded { rescanPending = true }
      // New data makes a pending second pass pointless: the next fast pass comes first.
      secondPassDue = false
    case .quiet:
      trainingDue = true
    case .signal(.stop):
      stopRequested = true
    case .signal(.reload):
      reloadRequested = true
    case .signal(.rebuild):
      rebuildRequested = true
    case .reloaded:
      // SIGHUP also means "rescan and retrain now".
      extractionDue = true
      trainingDue = true
      requestedTrainingDue = true
    case .extracted(let changed):
      if changed { secondPassDue = false }
    case .trained(let pass):
      secondPassDue = pass == .fast && twoSpeed
    }
  }

  /// The next piece of work, or nil when there is none; `filesSettling` says whether the
  /// watcher still waits for a file to be complete. Taking an action clears what it answers.
  public mutating func nextAction(filesSettling: Bool) -> Action? {
    if stopRequested { return .stop }
    if reloadRequested {
      reloadRequested = false
      return .reloadConfiguration
    }
    if rebuildRequested {
      rebuildRequested = false
      rebuildExtractionDue = true
      extractionDue = false
      forcedTrainingDue = true
      secondPassDue = false
    }
    if rebuildExtractionDue {
      rebuildExtractionDue = false
      defer { rescanPending = false }
      return .extract(rebuild: true, rescan: rescanPending)
    }
    if extractionDue && !filesSettling {
      extractionDue = false
      defer { rescanPending = false }
      return .extract(rebuild: false, rescan: rescanPending)
    }
    if forcedTrainingDue {
      forcedTrainingDue = false
      requestedTrainingDue = false
      trainingDue = false
      secondPassReason = .rebuild
      return .train(twoSpeed ? .fast : .full, reason: .rebuild)
    }
    // A due retrain waits for settling files and their extraction.
    if trainingDue && !extractionDue {
      trainingDue = false
      secondPassDue = false
      let reason: TrainingReason = requestedTrainingDue ? .requested : .changed
      requestedTrainingDue = false
      secondPassReason = reason
      return .train(twoSpeed ? .fast : .full, reason: reason)
    }
    if secondPassDue && !extractionDue && !filesSettling {
      secondPassDue = false
      return .train(.full, reason: secondPassReason)
    }
    return nil
  }

  /// Whether `nextAction` may return something now (the loop then does not wait for events).
  public var hasWork: Bool {
    stopRequested || reloadRequested || rebuildRequested || rebuildExtractionDue
      || extractionDue || forcedTrainingDue || trainingDue || secondPassDue
  }
}
