import DropnetArchitecture
import DropnetDataset
import DropnetModel
import DropnetTestSupport
import DropnetTraining
import DropnetWatch
import Foundation
import Logging
import Synchronization
import XCTest

@testable import DropnetDaemon

/// The daemon's loop with its parts replaced: a scripted watcher (the settle machine's
/// decisions arrive when the test says, so no clock runs) and fake training passes that
/// record what they were asked and return models of the accuracy the test chooses. Real
/// extraction, gate and publishing; no training. Covers the choices the daemon makes:
/// warm start or fresh, epochs, the second pass after the fast one, the gate, and a rebuild
/// bypassing it.
final class DaemonCompositionTests: XCTestCase {
  func testPlansGateAndPublishThroughTheLoop() throws {
    let root = try TestFiles.temporaryFolder("compose")
    let drop = root.appendingPathComponent("drop")
    try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
    for name in ["fish.mov", "windmill.mov"] {
      try FileManager.default.copyItem(
        at: try ServiceHarness.example("drop/\(name)"), to: drop.appendingPathComponent(name))
    }
    let watcher = ScriptedWatcher()
    let base = try Checkpoint.read(from: DropnetExecutable.imageNetWeights())
    let passes = FakePasses(base: base)
    let daemon = try Daemon(
      configurationFile: nil,
      overrides: [
        "folders.drop": .string(drop.path),
        "folders.state": .string(root.appendingPathComponent("state").path),
        "folders.output": .string(root.appendingPathComponent("models").path),
        "extraction.max_frames": .integer(12), "training.min_frames_per_class": .integer(5),
        "training.fine_tune": .string("bn"),
      ],
      baseWeights: try DropnetExecutable.imageNetWeights(),
      logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
      parts: Daemon.Parts(makeWatcher: { _ in watcher }, makePass: passes.make))
    let signals = try SignalMailbox(installingHandlers: false)
    let finished = DispatchSemaphore(value: 0)
    let failure = Mutex<(any Error)?>(nil)
    // The daemon runs on its own thread, as in `dropnet serve`; this test only reads files
    // it wrote, after it stopped.
    nonisolated(unsafe) let running = daemon
    Thread {
      do { try running.run(signals: signals) } catch { failure.withLock { $0 = error } }
      finished.signal()
    }.start()

    // Start-up: a rescan extracts both movies and starts the quiet period.
    watcher.emit([.rescan(.startup)])
    try watcher.awaitNoteChange()
    // Quiet: the fast pass (head, fresh) is published, then the second pass (bn, fresh: the
    // published model is a head's); the gate scores the published model at 0.8 < 0.9.
    passes.script([(accuracy: 0.8, score: nil), (accuracy: 0.9, score: 0.8)])
    watcher.emit([.retrain])
    try passes.awaitCalls(2)
    // Reload: retrain now. The fast pass starts fresh (a bn model is published) and is
    // rejected (0.5 < 0.9); the second pass warm-starts from the published bn model.
    passes.script([(accuracy: 0.5, score: 0.9), (accuracy: 0.95, score: 0.9)])
    signals.post(.reload)
    try passes.awaitCalls(4)
    // Rebuild: re-extract, train fresh and publish whatever the gate would say.
    passes.script([(accuracy: 0.1, score: 0.95), (accuracy: 0.2, score: 0.1)])
    signals.post(.rebuild)
    try passes.awaitCalls(6)
    signals.post(.stop)
    XCTAssertEqual(finished.wait(timeout: .now() + 120), .success, "the daemon stops")
    if let error = failure.withLock({ $0 }) { throw error }

    let plans = passes.requests.map(\.plan)
    let expected: [(ServicePlanner.Pass, FineTuneMode, Bool, Int, Bool)] = [
      (.fast, .head, false, 15, false), (.full, .batchNorm, false, 30, false),
      (.fast, .head, false, 15, false), (.full, .batchNorm, true, 10, false),
      (.fast, .head, false, 15, true), (.full, .batchNorm, false, 30, true),
    ]
    XCTAssertEqual(plans.count, expected.count)
    for (plan, (pass, mode, warm, epochs, bypass)) in zip(plans, expected) {
      XCTAssertEqual(plan.pass, pass)
      XCTAssertEqual(plan.mode, mode)
      XCTAssertEqual(plan.warmStart, warm, "\(plan)")
      XCTAssertEqual(plan.epochs, epochs, "\(plan)")
      XCTAssertEqual(plan.bypassesGate, bypass, "\(plan)")
      XCTAssertEqual(plan.classes, ["fish", "windmill"])
    }
    XCTAssertEqual(passes.requests[3].warmStart?.metadata.extra["fine_tune_mode"], "bn")
    // Published: v1 (fast), v2 (bn), v3 (bn warm), v4 and v5 (rebuild); the fast pass after
    // the reload was rejected.
    let published = try XCTUnwrap(
      PublishedModel.load(from: root.appendingPathComponent("state")))
    XCTAssertEqual(published.version, 5)
    XCTAssertEqual(published.validationAccuracy, 0.2)
    let status = try XCTUnwrap(DaemonStatus.load(from: root.appendingPathComponent("state")))
    XCTAssertEqual(status.state, .stopped)
    XCTAssertEqual(status.lastTraining?.outcome, .published)
  }
}

/// Decisions arrive when the test emits them; `noteChange` is recorded.
private final class ScriptedWatcher: DropWatching, @unchecked Sendable {
  private let condition = NSCondition()
  private var pending: [[SettleMachine.Output]] = []
  private var changesNoted = 0
  private var changesAwaited = 0

  func emit(_ outputs: [SettleMachine.Output]) {
    condition.lock()
    pending.append(outputs)
    condition.broadcast()
    condition.unlock()
  }

  func waitForDecisions(timeout: Duration) throws -> [SettleMachine.Output] {
    condition.lock()
    defer { condition.unlock() }
    if pending.isEmpty {
      let (seconds, attoseconds) = timeout.components
      _ = condition.wait(
        until: Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18))
    }
    return pending.isEmpty ? [] : pending.removeFirst()
  }

  var settlingPaths: [String] { [] }

  func noteChange() {
    condition.lock()
    changesNoted += 1
    condition.broadcast()
    condition.unlock()
  }

  /// Waits for the next `noteChange`.
  func awaitNoteChange(within seconds: Double = 120) throws {
    condition.lock()
    defer { condition.unlock() }
    changesAwaited += 1
    let deadline = Date(timeIntervalSinceNow: seconds)
    while changesNoted < changesAwaited {
      guard condition.wait(until: deadline) else {
        throw TestFiles.Missing("the daemon never noted a change")
      }
    }
  }
}

/// Training passes that return a model of a scripted accuracy without training.
private final class FakePasses: @unchecked Sendable {
  private let condition = NSCondition()
  private let base: Checkpoint
  private var scripted: [(accuracy: Double, score: Double?)] = []
  private(set) var requests: [TrainingRequest] = []

  init(base: Checkpoint) { self.base = base }

  func make(_ mode: FineTuneMode) -> TrainingPass { FakePass(mode: mode, owner: self) }

  /// The results of the next passes, in order: the candidate's validation accuracy and the
  /// published model's score on its validation frames.
  func script(_ results: [(accuracy: Double, score: Double?)]) {
    condition.lock()
    scripted += results
    condition.unlock()
  }

  func awaitCalls(_ count: Int, within seconds: Double = 120) throws {
    condition.lock()
    defer { condition.unlock() }
    let deadline = Date(timeIntervalSinceNow: seconds)
    while requests.count < count {
      guard condition.wait(until: deadline) else {
        throw TestFiles.Missing("\(requests.count) of \(count) passes ran")
      }
    }
  }

  fileprivate func train(_ request: TrainingRequest) throws -> TrainingOutcome {
    condition.lock()
    let (accuracy, score) = scripted.isEmpty ? (0, nil) : scripted.removeFirst()
    condition.unlock()
    let labels = request.plan.classes
    let head = try ClassifierHeadModel(classCount: labels.count, seed: request.plan.seed)
    var facts = base.metadata.extra
    facts[TrainingFacts.Key.fineTuneMode] = request.plan.mode.description
    let checkpoint = base.trained(head: head.tensors, labels: labels, facts: facts)
    let outcome = TrainingOutcome(
      checkpoint: checkpoint,
      history: TrainingHistory(epochs: [
        TrainingHistory.Epoch(
          epoch: 1, loss: 1, accuracy: accuracy, validationLoss: 1,
          validationAccuracy: accuracy, learningRate: 1e-3, seconds: 0)
      ]), bestEpoch: 1, validationAccuracy: accuracy, validationLoss: 1, validation: [],
      trainingFrameCount: 0, stateFolder: request.stateFolder, seconds: 0)
    condition.lock()
    requests.append(request)
    pendingScore = score
    condition.broadcast()
    condition.unlock()
    return outcome
  }

  private var pendingScore: Double?

  fileprivate func score() -> Double? {
    condition.lock()
    defer { condition.unlock() }
    return pendingScore
  }
}

private final class FakePass: TrainingPass {
  let mode: FineTuneMode
  private let owner: FakePasses

  init(mode: FineTuneMode, owner: FakePasses) {
    self.mode = mode
    self.owner = owner
  }

  func train(_ request: TrainingRequest) throws -> TrainingOutcome { try owner.train(request) }

  func score(_ checkpoint: Checkpoint, against outcome: TrainingOutcome, threads: Int) throws
    -> Double?
  { owner.score() }

  func reset() {}
}
