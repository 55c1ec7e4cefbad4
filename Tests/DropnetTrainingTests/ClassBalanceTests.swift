import DropnetDataset
import XCTest

@testable import DropnetTraining

/// Counts, imbalance and loss weights, checked against worked tables.
final class ClassBalanceTests: XCTestCase {
  private func labels(_ names: [String]) throws -> [Label] {
    try names.map { try Label(validating: $0) }
  }

  func testWeightsAreInverseFrequencyWithSampleMeanOne() throws {
    // counts, expected weights n / (k * n_c), ratio largest/smallest
    let table: [([Int], [Double], Double)] = [
      ([10, 30, 60], [100 / 30, 100 / 90, 100 / 180], 6),
      ([50, 50], [1, 1], 1),
      ([1, 3], [2, 2 / 3], 3),
      ([7], [1], 1),
    ]
    for (counts, expected, ratio) in table {
      let balance = ClassBalance(
        labels: try labels(counts.indices.map { "c\($0)" }), counts: counts)
      let weights = try balance.lossWeights()
      XCTAssertEqual(weights.count, expected.count)
      for (weight, want) in zip(weights, expected) {
        XCTAssertEqual(weight, want, accuracy: 1e-12, "\(counts)")
      }
      // Weighted by samples the mean is 1; every class then weighs n / k in total.
      let sampleMean =
        zip(weights, counts).reduce(0) { $0 + $1.0 * Double($1.1) } / Double(balance.total)
      XCTAssertEqual(sampleMean, 1, accuracy: 1e-12)
      for (weight, count) in zip(weights, counts) {
        XCTAssertEqual(
          weight * Double(count), Double(balance.total) / Double(counts.count), accuracy: 1e-9)
      }
      XCTAssertEqual(balance.imbalanceRatio, ratio, accuracy: 1e-12)
    }
  }

  func testCountsComeFromSamplesInLabelOrder() throws {
    let names = try labels(["ant", "bee", "cat"])
    func sample(_ label: Label, _ index: Int) -> TrainingSample {
      TrainingSample(label: label, moviePath: "m", movieID: "m", frameIndex: index, time: 0)
    }
    let samples = (0..<5).map { sample(names[2], $0) } + (0..<2).map { sample(names[0], $0) }
    let balance = ClassBalance(labels: names, samples: samples)
    XCTAssertEqual(balance.counts, [2, 0, 5])
    XCTAssertEqual(balance.shares, [2 / 7, 0, 5 / 7])
    XCTAssertEqual(balance.imbalanceRatio, .infinity)
    XCTAssertThrowsError(try balance.lossWeights()) {
      let error = $0 as? TrainingError
      XCTAssertEqual(error?.code, .tooFewFrames)
      XCTAssertTrue(error?.message.contains("class bee has no training frames") ?? false)
    }
  }

  func testReportShowsEachClassAndTheVerdict() throws {
    let uneven = ClassBalance(labels: try labels(["cat", "dog"]), counts: [20, 60])
    XCTAssertEqual(
      uneven.report(),
      """
      class  frames   share  weight
      cat        20   25.0%   2.000
      dog        60   75.0%   0.667
      imbalanced: the largest class has 3.00x the frames of the smallest; the loss is weighted per class to compensate
      """)
    let even = ClassBalance(labels: try labels(["cat", "dog"]), counts: [40, 44])
    XCTAssertTrue(even.report().hasSuffix("balanced: largest/smallest = 1.10"))
  }

  func testRealSplitIsCounted() throws {
    let split = try DatasetSplit(manifest: TrainingFixtures.dataset().manifest)
    let balance = ClassBalance(labels: split.labels, samples: split.training)
    XCTAssertEqual(balance.total, split.training.count)
    XCTAssertTrue(balance.counts.allSatisfy { $0 > 0 })
    XCTAssertEqual(try balance.lossWeights().count, 2)
  }
}
