import DropnetArchitecture
import DropnetEngine
import Foundation
import XCTest

@testable import DropnetModel

/// The importer on the real ImageNet graph, checked against what TensorFlow's own protobuf
/// code reads from it (Fixtures/reference/weights_summary.json, from make_reference.py).
final class RealWeightsTests: XCTestCase {
  /// sha256sum of examples/weights/mobilenet_v1_imagenet.pb (nudity-0.2.3 retrained_graph.pb).
  static let graphSHA256 = "3b90af536f810f5f75e9f6d431bc2e8a3c4fc2ff4f693aa0dd4ae429816f8735"

  func testImportMatchesTensorFlowsReadingOfEveryTensor() throws {
    let checkpoint = try WeightsImporter.importGraph(at: try ModelTestSupport.realGraph())
    let summary = try ModelTestSupport.referenceJSON("weights_summary.json")

    XCTAssertEqual(checkpoint.tensors.count, MobileNetV1Architecture.tensorShapes().count)
    XCTAssertEqual(Set(summary.keys), Set(checkpoint.tensors.keys))
    for (name, entry) in summary {
      let expected = try XCTUnwrap(entry as? [String: Any], name)
      let tensor = try XCTUnwrap(checkpoint.tensors[name], name)
      XCTAssertEqual(tensor.shape, expected["shape"] as? [Int], name)
      let first = try XCTUnwrap(expected["first"] as? [Double], name).map { Float($0) }
      XCTAssertEqual(Array(tensor.values.prefix(3)), first, name)
      XCTAssertEqual(tensor.values.last, (expected["last"] as? Double).map { Float($0) }, name)
      let sum = tensor.values.reduce(0.0) { $0 + Double($1) }
      let expectedSum = try XCTUnwrap(expected["sum"] as? Double, name)
      // Both sums add the same float32 values in float64, in the same order: exact up to
      // the last bits of float64 rounding.
      XCTAssertEqual(sum, expectedSum, accuracy: 1e-9 * max(1, abs(expectedSum)), name)
    }

    let metadata = checkpoint.metadata
    XCTAssertEqual(metadata.sourceSHA256, Self.graphSHA256)
    XCTAssertEqual(metadata.sourceFileName, "mobilenet_v1_imagenet.pb")
    XCTAssertNil(metadata.extra[WeightsImporter.defaultedGammaKey], "this graph has gammas")
    XCTAssertEqual(metadata.extra[WeightsImporter.batchNormEpsilonKey], "0.001")
  }

  func testImportedCheckpointSurvivesWriteAndRead() throws {
    let checkpoint = try WeightsImporter.importGraph(at: try ModelTestSupport.realGraph())
    let url = try ModelTestSupport.temporaryFolder(for: self)
      .appendingPathComponent("imagenet.safetensors")
    try checkpoint.write(to: url)
    let size = try XCTUnwrap(
      try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
    // 4,254,889 float32 weights (17.02 MB) plus a header of a few tens of kilobytes.
    XCTAssertEqual(size / 1_000_000, 17, "\(size) bytes")
    XCTAssertEqual(try Checkpoint.read(from: url), checkpoint)
  }
}
