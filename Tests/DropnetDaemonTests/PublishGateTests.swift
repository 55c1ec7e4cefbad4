import XCTest

@testable import DropnetDaemon

final class PublishGateTests: XCTestCase {
  func testDecisions() {
    let gate = PublishGate(enabled: true, margin: 0)
    let cases:
      [(
        candidate: Double, published: Double?, sameClasses: Bool, forced: Bool, publish: Bool,
        says: String
      )] =
        [
          (0.5, nil, true, false, true, "first model"),
          (0.9, 0.8, true, false, true, "not worse: new val acc 0.900, published 0.800"),
          (0.8, 0.8, true, false, true, "not worse"),
          (0.7, 0.8, true, false, false, "worse: new val acc 0.700, published 0.800"),
          (0.7, 0.8, false, false, true, "classes changed"),
          (0.1, 0.8, true, true, true, "rebuild bypasses the gate"),
        ]
    for item in cases {
      let decision = gate.decide(
        candidateAccuracy: item.candidate, publishedAccuracy: item.published,
        publishedScoredNow: true, sameClasses: item.sameClasses, forced: item.forced)
      XCTAssertEqual(decision.publish, item.publish, "\(item)")
      XCTAssertTrue(decision.reason.contains(item.says), "\(decision.reason) lacks \(item.says)")
    }
  }

  /// A fresh run sorts its classes, a warm start keeps the published order: the same classes
  /// either way, so the gate still compares accuracy.
  func testSameClassesIgnoresOrder() {
    let cases: [(published: [String], candidate: [String], same: Bool)] = [
      (["cat", "dog", "ant"], ["ant", "cat", "dog"], true),
      (["ant", "cat"], ["ant", "cat"], true),
      (["ant", "cat"], ["ant", "cat", "dog"], false),
      (["ant", "cat", "dog"], ["ant", "cat"], false),
      (["ant", "cat"], ["ant", "dog"], false),
    ]
    for item in cases {
      XCTAssertEqual(
        PublishGate.sameClasses(published: item.published, candidate: item.candidate), item.same,
        "\(item)")
    }
  }

  func testMarginAndSwitchingOff() {
    let tolerant = PublishGate(enabled: true, margin: 0.05)
    XCTAssertTrue(
      tolerant.decide(
        candidateAccuracy: 0.76, publishedAccuracy: 0.8, publishedScoredNow: false,
        sameClasses: true, forced: false
      ).publish)
    let decision = tolerant.decide(
      candidateAccuracy: 0.74, publishedAccuracy: 0.8, publishedScoredNow: false,
      sameClasses: true, forced: false)
    XCTAssertFalse(decision.publish)
    XCTAssertTrue(decision.reason.contains("as stored"), decision.reason)
    let off = PublishGate(enabled: false, margin: 0)
    XCTAssertTrue(
      off.decide(
        candidateAccuracy: 0.1, publishedAccuracy: 0.9, publishedScoredNow: true,
        sameClasses: true, forced: false
      ).publish)
  }
}
