import DropnetArchitecture
import DropnetEngine
import XCTest

/// The benchmark's bookkeeping (not its speed: speed targets live in the benchmark itself).
final class InferenceBenchmarkTests: XCTestCase {
  func testSmallestRunReportsConsistentNumbers() throws {
    let configuration = InferenceBenchmark.Configuration(
      batchSizes: [2], threadCounts: [1], warmUpPasses: 1, minimumPasses: 1, minimumSeconds: 0,
      sgemmSize: 64, sgemmRepetitions: 2)
    let result = try InferenceBenchmark(configuration: configuration).run()
    XCTAssertEqual((Double(result.multiplyAddsPerImage) / 1e6).rounded(), 569)
    XCTAssertEqual(result.peaks.map(\.threads), [1])
    XCTAssertGreaterThan(result.peaks[0].gflopsPerSecond, 0)
    XCTAssertEqual(result.measurements.count, 1)
    let measurement = result.measurements[0]
    XCTAssertEqual(measurement.batchSize, 2)
    XCTAssertGreaterThanOrEqual(measurement.passes, 1)
    XCTAssertEqual(
      measurement.millisecondsPerImage * measurement.imagesPerSecond, 1000, accuracy: 1e-6)
    XCTAssertEqual(
      measurement.gflopsPerSecond,
      measurement.imagesPerSecond * 2 * Double(result.multiplyAddsPerImage) / 1e9,
      accuracy: 1e-6 * measurement.gflopsPerSecond)
    XCTAssertEqual(
      measurement.fractionOfPeak, measurement.gflopsPerSecond / result.peaks[0].gflopsPerSecond,
      accuracy: 1e-12)
    // The 224x224 network's weights alone are 17 MB; any real RSS reading exceeds that.
    let peak = try XCTUnwrap(result.processPeakResidentBytes)
    XCTAssertGreaterThan(peak, 17_000_000)
    XCTAssertTrue(
      MobileNetV1Architecture.layers.map(\.name).allSatisfy { result.implementations[$0] != nil },
      "every convolution names its kernel: \(result.implementations)")
    // The result is what the CLI serialises.
    let decoded = try JSONDecoder().decode(
      InferenceBenchmark.Result.self, from: JSONEncoder().encode(result))
    XCTAssertEqual(decoded.measurements.first?.passes, measurement.passes)
  }
}
