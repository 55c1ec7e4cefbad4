import DropnetTraining
import XCTest

@testable import DropnetDaemon

/// The training choices, by table: skip or train, which classes, warm start or fresh, epochs,
/// seed, gate bypass.
final class TrainingPlannerTests: XCTestCase {
  typealias Count = DaemonStatus.ClassCount
  let planner = TrainingPlanner(
    secondMode: .batchNorm, fastEpochs: 15, freshEpochs: 30, incrementalEpochs: 10,
    minimumFramesPerClass: 20)
  let enough = [
    Count(label: "fish", movies: 1, frames: 40), Count(label: "tool", movies: 2, frames: 20),
  ]

  func testModeWarmStartEpochsSeedAndGateByPassReason() {
    typealias Row = (
      pass: ServicePlanner.Pass, reason: ServicePlanner.TrainingReason, published: FineTuneMode?,
      mode: FineTuneMode, warm: Bool, epochs: Int, seed: UInt64, bypass: Bool
    )
    let table: [Row] = [
      // Nothing published: fresh.
      (.fast, .changed, nil, .head, false, 15, 0, false),
      (.full, .changed, nil, .batchNorm, false, 30, 1, false),
      // The same mode published: warm start; the second pass then trains fewer epochs.
      (.fast, .changed, .head, .head, true, 15, 0, false),
      (.full, .changed, .batchNorm, .batchNorm, true, 10, 1, false),
      (.full, .requested, .batchNorm, .batchNorm, true, 10, 1, false),
      // Another mode published: its base differs, so fresh.
      (.fast, .changed, .batchNorm, .head, false, 15, 0, false),
      (.full, .changed, .head, .batchNorm, false, 30, 1, false),
      // A rebuild: fresh, and the gate is bypassed.
      (.fast, .rebuild, .head, .head, false, 15, 0, true),
      (.full, .rebuild, .batchNorm, .batchNorm, false, 30, 1, true),
    ]
    for row in table {
      let decision = planner.decide(
        pass: row.pass, reason: row.reason, classes: enough, digest: "new",
        trainedDigest: "old", publishedMode: row.published)
      XCTAssertEqual(
        decision,
        .train(
          TrainingPlan(
            pass: row.pass, mode: row.mode, warmStart: row.warm, epochs: row.epochs,
            seed: row.seed, bypassesGate: row.bypass, classes: ["fish", "tool"])), "\(row)")
    }
  }

  func testAnUnchangedDatasetIsSkippedOnlyWhenTheFolderChanged() {
    for (reason, skipped) in [
      (ServicePlanner.TrainingReason.changed, true), (.requested, false),
      (.rebuild, false),
    ] {
      let decision = planner.decide(
        pass: .fast, reason: reason, classes: enough, digest: "same", trainedDigest: "same",
        publishedMode: .head)
      XCTAssertEqual(decision == .unchanged, skipped, "\(reason)")
    }
  }

  func testShortClassesWaitWhileTheOthersTrain() {
    let classes = enough + [Count(label: "trunc", movies: 1, frames: 5)]
    guard
      case .train(let plan) = planner.decide(
        pass: .fast, reason: .changed, classes: classes, digest: "d", trainedDigest: nil,
        publishedMode: nil)
    else { return XCTFail("two classes have enough frames: they train") }
    XCTAssertEqual(plan.classes, ["fish", "tool"])
    XCTAssertEqual(plan.waiting, [Count(label: "trunc", movies: 1, frames: 5)])
    let text = TrainingPlanner.waitingText(plan.waiting, minimum: 20)
    XCTAssertEqual(
      text, "trunc has 5 of 20 frames; it trains once it has enough (add longer or more movies)")
  }

  func testTooFewClassesSaysWhatIsMissing() {
    typealias Row = (classes: [Count], expected: [String])
    let table: [Row] = [
      ([], ["the drop folder has 0"]),
      ([Count(label: "fish", movies: 1, frames: 40)], ["has 1: fish (40 frames)"]),
      (
        [Count(label: "fish", movies: 1, frames: 40), Count(label: "tool", movies: 1, frames: 3)],
        ["has 1", "fish (40 frames)", "tool (3 frames)", "min_frames_per_class"]
      ),
    ]
    for row in table {
      guard
        case .notEnoughData(let text) = planner.decide(
          pass: .fast, reason: .changed, classes: row.classes, digest: "d", trainedDigest: nil,
          publishedMode: nil)
      else {
        XCTFail("\(row.classes) cannot train")
        continue
      }
      for part in row.expected { XCTAssertTrue(text.contains(part), text) }
    }
  }
}
