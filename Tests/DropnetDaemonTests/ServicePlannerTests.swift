import XCTest

@testable import DropnetDaemon

/// The planner driven by tables of inputs: each step is an input (or nil for "ask only") and
/// the action expected when the daemon asks next.
final class ServicePlannerTests: XCTestCase {
  typealias Step = (input: ServicePlanner.Input?, settling: Bool, expected: ServicePlanner.Action?)

  func run(
    _ steps: [Step], twoSpeed: Bool = true, file: StaticString = #filePath, line: UInt = #line
  ) {
    var planner = ServicePlanner(twoSpeed: twoSpeed)
    for (index, step) in steps.enumerated() {
      if let input = step.input { planner.handle(input) }
      let action = planner.nextAction(filesSettling: step.settling)
      XCTAssertEqual(
        action, step.expected, "step \(index): \(String(describing: step.input))", file: file,
        line: line)
    }
  }

  func testDropSettleExtractDebounceFastThenSecondPass() {
    run([
      (.rescanNeeded, false, .extract(rebuild: false, rescan: true)),
      (.extracted(changed: false), false, nil),
      (.filesChanged, true, nil),  // another file still settling: do not read yet
      (nil, false, .extract(rebuild: false, rescan: false)),
      (.extracted(changed: true), false, nil),
      (.quiet, false, .train(.fast, reason: .changed)),
      (.trained(.fast), false, .train(.full, reason: .changed)),
      (.trained(.full), false, nil),
    ])
  }

  func testOneSpeedTrainsOnlyTheConfiguredPass() {
    run(
      [
        (.quiet, false, .train(.full, reason: .changed)),
        (.trained(.full), false, nil),
      ], twoSpeed: false)
  }

  func testAChangeDuringTrainingIsExtractedBeforeTheNextPassAndCancelsTheSecondPass() {
    var planner = ServicePlanner(twoSpeed: true)
    planner.handle(.quiet)
    XCTAssertEqual(planner.nextAction(filesSettling: false), .train(.fast, reason: .changed))
    // The fast pass ends; the watcher reports the movie that completed meanwhile.
    planner.handle(.trained(.fast))
    planner.handle(.filesChanged)
    XCTAssertEqual(
      planner.nextAction(filesSettling: false), .extract(rebuild: false, rescan: false))
    planner.handle(.extracted(changed: true))
    // The second pass gives way: a new fast pass follows the next quiet period.
    XCTAssertNil(planner.nextAction(filesSettling: false))
    planner.handle(.quiet)
    XCTAssertEqual(planner.nextAction(filesSettling: false), .train(.fast, reason: .changed))
  }

  func testTrainingWaitsForPendingExtraction() {
    run([
      (.filesChanged, true, nil),
      (.quiet, true, nil),  // still settling: neither extract nor train on a partial dataset
      (nil, false, .extract(rebuild: false, rescan: false)),
      (nil, false, .train(.fast, reason: .changed)),
    ])
  }

  func testReloadRescansAndRetrainsNowAndRepeatedSignalsCoalesce() {
    run([
      (.signal(.reload), false, .reloadConfiguration),
      (.signal(.reload), false, .reloadConfiguration),
      (.reloaded, false, .extract(rebuild: false, rescan: false)),
      (.extracted(changed: false), false, .train(.fast, reason: .requested)),
      // The second pass retrains too, even on an unchanged dataset.
      (.trained(.fast), false, .train(.full, reason: .requested)),
    ])
    var planner = ServicePlanner(twoSpeed: true)
    for _ in 0..<10 { planner.handle(.signal(.reload)) }
    XCTAssertEqual(planner.nextAction(filesSettling: false), .reloadConfiguration)
    planner.handle(.reloaded)
    XCTAssertEqual(
      planner.nextAction(filesSettling: false), .extract(rebuild: false, rescan: false))
    XCTAssertEqual(planner.nextAction(filesSettling: false), .train(.fast, reason: .requested))
    XCTAssertNil(planner.nextAction(filesSettling: false))
  }

  func testRebuildReextractsTrainsForcedAndCoalesces() {
    run([
      (.signal(.rebuild), false, .extract(rebuild: true, rescan: false)),
      (.signal(.rebuild), false, .extract(rebuild: true, rescan: false)),
      (.extracted(changed: true), false, .train(.fast, reason: .rebuild)),
      // The second pass is rebuilt too: from ImageNet, past the gate.
      (.trained(.fast), false, .train(.full, reason: .rebuild)),
    ])
    var planner = ServicePlanner(twoSpeed: false)
    planner.handle(.filesChanged)
    planner.handle(.signal(.rebuild))
    planner.handle(.signal(.rebuild))
    XCTAssertEqual(planner.nextAction(filesSettling: false), .extract(rebuild: true, rescan: false))
    XCTAssertEqual(planner.nextAction(filesSettling: false), .train(.full, reason: .rebuild))
    XCTAssertNil(planner.nextAction(filesSettling: false))
  }

  func testStopWinsOverEverything() {
    var planner = ServicePlanner(twoSpeed: true)
    planner.handle(.filesChanged)
    planner.handle(.quiet)
    planner.handle(.signal(.reload))
    planner.handle(.signal(.stop))
    XCTAssertTrue(planner.hasWork)
    XCTAssertEqual(planner.nextAction(filesSettling: false), .stop)
    XCTAssertEqual(planner.nextAction(filesSettling: false), .stop)
  }

  func testIdlePlannerHasNoWork() {
    var planner = ServicePlanner(twoSpeed: true)
    XCTAssertFalse(planner.hasWork)
    XCTAssertNil(planner.nextAction(filesSettling: false))
    planner.handle(.filesChanged)
    XCTAssertTrue(planner.hasWork)
  }
}
