import DropnetTraining

/// How a pass trains, decided before it starts.
public struct TrainingPlan: Sendable, Equatable {
  /// The fast pass or the configured one.
  public var pass: ServicePlanner.Pass
  /// What trains.
  public var mode: FineTuneMode
  /// Continue the published model (its head, and its base in the base modes) rather than start
  /// from the ImageNet weights.
  public var warmStart: Bool
  /// Epochs to train.
  public var epochs: Int
  /// Seed of initialisation, batch order and dropout.
  public var seed: UInt64
  /// A rebuild: published whatever the gate would say.
  public var bypassesGate: Bool
  /// The classes trained (in name order).
  public var classes: [String]
  /// Classes left out until they have `minimumFramesPerClass` frames, with their counts.
  public var waiting: [DaemonStatus.ClassCount]

  public init(
    pass: ServicePlanner.Pass, mode: FineTuneMode, warmStart: Bool, epochs: Int, seed: UInt64,
    bypassesGate: Bool, classes: [String], waiting: [DaemonStatus.ClassCount] = []
  ) {
    self.pass = pass
    self.mode = mode
    self.warmStart = warmStart
    self.epochs = epochs
    self.seed = seed
    self.bypassesGate = bypassesGate
    self.classes = classes
    self.waiting = waiting
  }
}

/// The daemon's training choices, pure: whether a pass trains at all, on which classes, from
/// the published model or afresh, for how many epochs. No files, no clock: tests drive it with
/// tables.
///
/// Rules:
/// - A pass that was due because the folder changed is skipped when the dataset is the one it
///   last trained on; a reload or a rebuild trains anyway.
/// - Classes with fewer than `minimumFramesPerClass` frames wait (named in the plan); the rest
///   train when there are at least two of them.
/// - The fast pass trains the head; the other pass the configured mode.
/// - A pass warm-starts from the published model when the same mode trained it, except on a
///   rebuild (which starts from ImageNet and bypasses the gate): another mode changed the base
///   the head's features come from.
/// - Epochs: the fast pass `fastEpochs`; the other pass `incrementalEpochs` when it
///   warm-starts, else `freshEpochs`.
public struct TrainingPlanner: Sendable, Equatable {
  /// What the planner decides.
  public enum Decision: Sendable, Equatable {
    /// Train as planned.
    case train(TrainingPlan)
    /// Nothing to do: the dataset is the one this pass last trained on.
    case unchanged
    /// Not enough data; the text says what is missing and what to do.
    case notEnoughData(String)
  }

  /// The second pass's mode.
  public var secondMode: FineTuneMode
  public var fastEpochs: Int
  public var freshEpochs: Int
  public var incrementalEpochs: Int
  public var minimumFramesPerClass: Int

  public init(
    secondMode: FineTuneMode, fastEpochs: Int, freshEpochs: Int, incrementalEpochs: Int,
    minimumFramesPerClass: Int
  ) {
    self.secondMode = secondMode
    self.fastEpochs = fastEpochs
    self.freshEpochs = freshEpochs
    self.incrementalEpochs = incrementalEpochs
    self.minimumFramesPerClass = minimumFramesPerClass
  }

  /// The planner for `configuration`.
  public init(_ configuration: DaemonConfiguration) {
    self.init(
      secondMode: configuration.fineTune, fastEpochs: configuration.fastEpochs,
      freshEpochs: configuration.freshEpochs, incrementalEpochs: configuration.incrementalEpochs,
      minimumFramesPerClass: configuration.minimumFramesPerClass)
  }

  /// What `pass`, due for `reason`, does with the dataset's `classes` (digest `digest`; the
  /// pass last trained on `trainedDigest`), given the mode that trained the published model.
  public func decide(
    pass: ServicePlanner.Pass, reason: ServicePlanner.TrainingReason,
    classes: [DaemonStatus.ClassCount], digest: String, trainedDigest: String?,
    publishedMode: FineTuneMode?
  ) -> Decision {
    if reason == .changed, trainedDigest == digest { return .unchanged }
    let ready = classes.filter { $0.frames >= minimumFramesPerClass }
    let waiting = classes.filter { $0.frames < minimumFramesPerClass }
    guard ready.count >= 2 else {
      return .notEnoughData(
        Self.missing(ready: ready, waiting: waiting, minimum: minimumFramesPerClass))
    }
    let mode = pass == .fast ? FineTuneMode.head : secondMode
    let warmStart = reason != .rebuild && publishedMode == mode
    return .train(
      TrainingPlan(
        pass: pass, mode: mode, warmStart: warmStart,
        epochs: pass == .fast ? fastEpochs : (warmStart ? incrementalEpochs : freshEpochs),
        seed: pass == .fast ? 0 : 1, bypassesGate: reason == .rebuild,
        classes: ready.map(\.label).sorted(), waiting: waiting))
  }

  /// What keeps the dataset from training, in words.
  static func missing(
    ready: [DaemonStatus.ClassCount], waiting: [DaemonStatus.ClassCount], minimum: Int
  ) -> String {
    let have = (ready + waiting).map { "\($0.label) (\($0.frames) frames)" }
    var text =
      "at least 2 classes with \(minimum) frames each (training.min_frames_per_class) are "
      + "needed, the drop folder has \(ready.count)"
    if !have.isEmpty { text += ": " + have.joined(separator: ", ") }
    return text + "; add longer or more movies, or movies of another label"
  }

  /// The classes waiting for frames, in words (nil when none wait).
  public static func waitingText(_ waiting: [DaemonStatus.ClassCount], minimum: Int) -> String? {
    guard !waiting.isEmpty else { return nil }
    return waiting.map { "\($0.label) has \($0.frames) of \(minimum) frames" }
      .joined(separator: ", ") + "; it trains once it has enough (add longer or more movies)"
  }
}
