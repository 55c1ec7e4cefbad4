import DropnetModel
import Foundation
import XCTest

@testable import DropnetTraining

/// report.json's pure parts: precision, recall and the confusion matrix; the dataset hash;
/// the training facts stored in a checkpoint.
final class TrainingReportTests: XCTestCase {
  struct MetricsCase {
    var name: String
    var truth: [Int]
    var predicted: [Int]
    var classCount: Int
    var confusion: [[Int]]
    var precision: [Double?]
    var recall: [Double?]
    var accuracy: Double?
  }

  let metricsCases = [
    MetricsCase(
      name: "all right", truth: [0, 1, 2, 1], predicted: [0, 1, 2, 1], classCount: 3,
      confusion: [[1, 0, 0], [0, 2, 0], [0, 0, 1]], precision: [1, 1, 1], recall: [1, 1, 1],
      accuracy: 1),
    // Class 0: 2 of 3 found (recall 2/3); predicted 0 four times, twice right (precision 1/2).
    MetricsCase(
      name: "mixed", truth: [0, 0, 0, 1, 1, 2, 2], predicted: [0, 0, 1, 0, 1, 0, 2], classCount: 3,
      confusion: [[2, 1, 0], [1, 1, 0], [1, 0, 1]], precision: [0.5, 0.5, 1],
      recall: [2.0 / 3, 0.5, 0.5], accuracy: 4.0 / 7),
    // Class 2 never predicted (precision undefined) and class 1 never present (recall
    // undefined): nil, not 0 or 1.
    MetricsCase(
      name: "undefined", truth: [0, 0, 2], predicted: [0, 1, 0], classCount: 3,
      confusion: [[1, 1, 0], [0, 0, 0], [1, 0, 0]], precision: [0.5, 0, nil],
      recall: [0.5, nil, 0], accuracy: 1.0 / 3),
    MetricsCase(
      name: "empty", truth: [], predicted: [], classCount: 2, confusion: [[0, 0], [0, 0]],
      precision: [nil, nil], recall: [nil, nil], accuracy: nil),
  ]

  func testPrecisionRecallAndConfusion() {
    for test in metricsCases {
      let metrics = ClassificationMetrics(
        trueClasses: test.truth, predictedClasses: test.predicted, classCount: test.classCount)
      XCTAssertEqual(metrics.confusion, test.confusion, test.name)
      XCTAssertEqual(metrics.precision, test.precision, test.name)
      XCTAssertEqual(metrics.recall, test.recall, test.name)
      XCTAssertEqual(metrics.accuracy, test.accuracy, test.name)
      // Every example is counted once.
      XCTAssertEqual(metrics.confusion.joined().reduce(0, +), test.truth.count, test.name)
    }
  }

  func testDatasetHashIsStableAndSeesContentLabelsAndClasses() {
    let frames = [("aa", "cat"), ("bb", "cat"), ("cc", "dog")].map {
      (contentHash: $0.0, label: $0.1)
    }
    let hash = TrainingReport.datasetHash(labels: ["cat", "dog"], frames: frames)
    XCTAssertEqual(hash.count, 64)
    XCTAssertEqual(
      TrainingReport.datasetHash(labels: ["cat", "dog"], frames: frames.reversed()), hash,
      "frame order does not matter")
    XCTAssertEqual(
      TrainingReport.datasetHash(labels: ["dog", "cat"], frames: frames), hash,
      "the network's class order is not the dataset's")
    var relabelled = frames
    relabelled[1].label = "dog"
    var changed = frames
    changed[2].contentHash = "cd"
    for (other, what) in [
      (TrainingReport.datasetHash(labels: ["cat", "dog"], frames: relabelled), "a label"),
      (TrainingReport.datasetHash(labels: ["cat", "dog"], frames: changed), "a frame's bytes"),
      (TrainingReport.datasetHash(labels: ["cat", "dog", "eel"], frames: frames), "a class"),
      (
        TrainingReport.datasetHash(labels: ["cat", "dog"], frames: Array(frames.prefix(2))),
        "a frame less"
      ),
    ] {
      XCTAssertNotEqual(other, hash, what)
    }
  }

  func testTrainingFactsRoundTripThroughCheckpointEntries() throws {
    let facts = TrainingFacts(
      trainingDate: Date(timeIntervalSince1970: 1_800_000_000), classes: ["peace sign", "日本語"],
      trainingFrames: ["peace sign": 30, "日本語": 12], validationFrames: ["peace sign": 9, "日本語": 4],
      validationAccuracy: 0.8125, validationLoss: 0.4321, bestEpoch: 7, fineTuneMode: "head",
      split: "leak-free", dropnetVersion: "0.1.0", datasetHash: String(repeating: "ab", count: 32))
    let entries = facts.entries
    XCTAssertEqual(entries[TrainingFacts.Key.trainingDate], "2027-01-15T08:00:00Z")
    XCTAssertEqual(entries[TrainingFacts.Key.classes], #"["peace sign","日本語"]"#)
    XCTAssertEqual(entries[TrainingFacts.Key.trainingFrames], #"{"peace sign":30,"日本語":12}"#)
    XCTAssertEqual(entries[TrainingFacts.Key.validationAccuracy], "0.8125")
    XCTAssertNil(entries[TrainingFacts.Key.warmStartedFrom])
    XCTAssertEqual(TrainingFacts(entries: entries), facts)
    var broken = entries
    broken[TrainingFacts.Key.bestEpoch] = "seven"
    XCTAssertNil(TrainingFacts(entries: broken), "a malformed entry is not half-read")
  }

  func testAnUndefinedPrecisionIsWrittenAsNull() throws {
    let figures = TrainingReport.ClassFigures(
      label: "cat", trainingFrames: 3, validationFrames: 0, splitMethod: "by-time",
      precision: nil, recall: nil)
    let json = String(decoding: try JSONEncoder().encode(figures), as: UTF8.self)
    XCTAssertTrue(json.contains(#""precision":null"#), json)
    XCTAssertTrue(json.contains(#""recall":null"#), json)
    XCTAssertEqual(
      try JSONDecoder().decode(TrainingReport.ClassFigures.self, from: Data(json.utf8)), figures)
  }
}
