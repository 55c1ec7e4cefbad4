import DropnetDataset
import DropnetMedia
import DropnetModel
import XCTest

@testable import DropnetTraining

/// Batches of real frames from the worker thread.
final class BatchLoaderTests: XCTestCase {
  private func everyBatch(_ loader: BatchLoader) throws -> [BatchLoader.Batch] {
    var batches: [BatchLoader.Batch] = []
    while let batch = try loader.next() { batches.append(batch) }
    return batches
  }

  func testEveryFrameOnceWithItsClassAndPredictsPreprocessing() throws {
    let dataset = try TrainingFixtures.dataset()
    let split = try DatasetSplit(manifest: dataset.manifest)
    let samples = Array(split.training.prefix(11))
    let loader = try BatchLoader(
      samples: samples, labels: split.labels, stateFolder: dataset.stateFolder, batchSize: 4,
      framing: .centerCrop,
      augmentation: nil, shuffle: false)
    let batches = try everyBatch(loader)
    XCTAssertEqual(loader.batchCount, 3)
    XCTAssertEqual(
      batches.map(\.images.shape), [[4, 224, 224, 3], [4, 224, 224, 3], [3, 224, 224, 3]])
    XCTAssertEqual(batches.flatMap(\.samples), samples)
    XCTAssertEqual(
      batches.flatMap(\.classIndices), samples.map { split.labels.firstIndex(of: $0.label)! })
    XCTAssertNil(try loader.next(), "the epoch stays over")
    XCTAssertGreaterThanOrEqual(loader.waitedSeconds, 0)
    XCTAssertGreaterThan(loader.workSeconds, 0)

    // Without augmentation each image is exactly what `dropnet predict` feeds the network.
    let path = samples[5].url(in: dataset.stateFolder).path
    let image = try Image(contentsOf: path)
    let crop = InputFraming.centerCrop.sourceRectangle(width: image.width, height: image.height)
    let expected = try ImagePreprocessor.tensor(
      fromBGR: try Image(
        bytes: ImagePreprocessor.crop(
          image.bytes, width: image.width, height: image.height, to: crop),
        width: crop.width, height: crop.height, channelCount: 3
      ).resized(width: 224, height: 224).bytes, width: 224, height: 224)
    let imageSize = 224 * 224 * 3
    XCTAssertEqual(
      Array(batches[1].images.values[imageSize..<(2 * imageSize)]), expected.values)
  }

  func testShuffledAugmentedEpochsAreSeeded() throws {
    let dataset = try TrainingFixtures.dataset()
    let split = try DatasetSplit(manifest: dataset.manifest)
    let samples = Array(split.training.prefix(6))
    func epoch(seed: UInt64) throws -> [BatchLoader.Batch] {
      try everyBatch(
        BatchLoader(
          samples: samples, labels: split.labels, stateFolder: dataset.stateFolder, batchSize: 3,
          framing: .centerCrop,
          augmentation: Augmentation(), seed: seed))
    }
    let first = try epoch(seed: 1)
    let again = try epoch(seed: 1)
    let other = try epoch(seed: 2)
    XCTAssertEqual(first.map(\.images), again.map(\.images))
    XCTAssertEqual(first.map(\.samples), again.map(\.samples))
    XCTAssertNotEqual(first.map(\.images), other.map(\.images))
    XCTAssertEqual(Set(first.flatMap(\.samples)), Set(samples))
    let values = first.flatMap(\.images.values)
    XCTAssertGreaterThanOrEqual(values.min()!, -1)
    XCTAssertLessThanOrEqual(values.max()!, 1)
  }

  func testAnUnreadableFrameEndsTheEpochWithAnError() throws {
    let dataset = try TrainingFixtures.dataset()
    let split = try DatasetSplit(manifest: dataset.manifest)
    var missing = split.training[0]
    missing.frameIndex = 999_999
    let loader = try BatchLoader(
      samples: Array(split.training.prefix(2)) + [missing], labels: split.labels,
      stateFolder: dataset.stateFolder, batchSize: 2, framing: .centerCrop, augmentation: nil,
      shuffle: false)
    XCTAssertEqual(try loader.next()?.samples.count, 2)
    XCTAssertThrowsError(try loader.next()) { XCTAssertTrue($0 is MediaError, "\($0)") }
    XCTAssertNil(try loader.next())
  }

  func testBadSettingsAreRejected() throws {
    let dataset = try TrainingFixtures.dataset()
    let split = try DatasetSplit(manifest: dataset.manifest)
    XCTAssertThrowsError(
      try BatchLoader(
        samples: split.training, labels: split.labels, stateFolder: dataset.stateFolder,
        batchSize: 0, framing: .centerCrop, augmentation: nil))
    XCTAssertThrowsError(
      try BatchLoader(
        samples: split.training, labels: [split.labels[0]], stateFolder: dataset.stateFolder,
        batchSize: 4, framing: .centerCrop, augmentation: nil)
    ) { XCTAssertEqual(($0 as? TrainingError)?.code, .invalidSetting) }
  }
}
