import XCTest

@testable import DropnetDataset

final class QualityFilterTests: XCTestCase {
  func testBlurIsRelativeToTheMoviesOwnMedian() {
    let filter = QualityFilter(blurRatio: 0.3, duplicateBits: 3)
    // Median 90: threshold 27. The same shape at a tenth of the sharpness gives the same verdicts.
    let sharp: [Double] = [100, 120, 20, 90, 110, 25, 31]
    let hashes: [UInt64] = [0x0, 0xFF, 0xFF00, 0xFF_0000, 0xFF00_0000, 0xFF_0000_0000, 0xFFFF]
    let expected: [FrameRecord.DropReason?] = [nil, nil, .blurred, nil, nil, .blurred, nil]
    XCTAssertEqual(filter.judge(sharpness: sharp, hashes: hashes), expected)
    XCTAssertEqual(filter.judge(sharpness: sharp.map { $0 / 10 }, hashes: hashes), expected)
  }

  func testNearDuplicatesOfTheLastKeptFrameAreDropped() {
    let filter = QualityFilter(blurRatio: 0, duplicateBits: 3)
    let table: [(hashes: [UInt64], expected: [FrameRecord.DropReason?])] = [
      ([0b0, 0b111, 0b1111], [nil, .duplicate, nil]),  // 3 bits = duplicate, 4 = new
      ([0b0, 0b1, 0b11, 0b111, 0b1111], [nil, .duplicate, .duplicate, .duplicate, nil]),
      ([0xFFFF, 0x0, 0xFFFF], [nil, nil, nil]),  // compared with the last kept only
    ]
    for (hashes, expected) in table {
      let sharpness = Array(repeating: 1.0, count: hashes.count)
      XCTAssertEqual(filter.judge(sharpness: sharpness, hashes: hashes), expected, "\(hashes)")
    }
  }

  func testBlurredFramesDoNotBecomeTheDuplicateReference() {
    let filter = QualityFilter(blurRatio: 0.5, duplicateBits: 2)
    let reasons = filter.judge(sharpness: [10, 1, 10], hashes: [0xF0, 0x0F, 0x0F])
    XCTAssertEqual(reasons, [nil, .blurred, nil])
  }

  func testSamplingIntervalFollowsRateAndCap() {
    var settings = ExtractionSettings()
    settings.sampling = .rate(7.5)
    settings.maximumFramesPerMovie = 300
    XCTAssertEqual(settings.interval(framesPerSecond: 30, claimedFrameCount: 300), 4)
    // An unknown frame rate is taken as 30 fps.
    XCTAssertEqual(settings.interval(framesPerSecond: 0, claimedFrameCount: 0), 4)
    // A 10-minute 30 fps movie (18,000 frames) is sampled every 60 frames to stay at 300.
    XCTAssertEqual(settings.interval(framesPerSecond: 30, claimedFrameCount: 18_000), 60)
    settings.sampling = .interval(3)
    XCTAssertEqual(settings.interval(framesPerSecond: 60, claimedFrameCount: 100), 3)
  }
}
