import DropnetArchitecture
import DropnetCoreMLReader
import DropnetEngine
import DropnetExport
import DropnetModel
import Foundation
import XCTest

/// The exported file, read back and run by the engine, predicts what the checkpoint predicts,
/// on real photos (the five reference photos of DropnetModelTests: three OpenCV samples and
/// two scikit-image photos, already cropped and resized to 224x224 RGB).
final class ParseBackParityTests: XCTestCase {
  /// Float32 export: the only differences are folding batch norm once into float32 weights
  /// (the engine folds the checkpoint the same way, in Double) and the scaler computing
  /// x * (1/127.5) - 1 instead of (x - 127.5) / 127.5: float rounding, far below this.
  static let float32Tolerance = 1e-4
  /// Float16 export: every weight rounded to 11 significant bits (relative error <= 2^-11).
  /// Measured on these photos: 0.0068 (float32: 1.3e-6); the bound leaves room, and the top
  /// class must not change.
  static let float16Tolerance = 0.02

  static let photos = ["baboon", "orange", "squirrel", "chelsea", "coffee"]

  static func photoBytes() throws -> [[UInt8]] {
    let folder = ExportTestSupport.packageRoot
      .appendingPathComponent("Tests/DropnetModelTests/Fixtures/reference")
    return try photos.map {
      [UInt8](try Data(contentsOf: folder.appendingPathComponent("\($0).rgb")))
    }
  }

  /// Probabilities of the engine on the checkpoint and on the exported file, [N, classes].
  func probabilities(float16: Bool) throws -> (checkpoint: HostTensor, exported: HostTensor) {
    let checkpoint = try ExportTestSupport.imageNetCheckpoint()
    let images = try Self.photoBytes()
    let reference = try MobileNetV1(
      weights: checkpoint.tensors, batchSize: images.count, threads: 2)
    let expected = try reference.forward(
      ImagePreprocessor.batch(fromRGB: images, width: 224, height: 224)
    ).probabilities

    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ExportTestSupport.exportCoreML(
      checkpoint: checkpoint, name: "Parity", to: folder,
      options: ExportOptions(float16Weights: float16))
    let file = try CoreMLClassifierFile(contentsOf: result.mlmodelURL)
    XCTAssertEqual(file.classLabels, checkpoint.metadata.classLabels)
    let exported = try MobileNetV1(
      weights: file.mobileNetWeights(), batchSize: images.count, threads: 2,
      classCount: file.classLabels.count)
    let actual = try exported.forward(file.input(fromRGB: images)).probabilities
    return (expected, actual)
  }

  /// Largest absolute difference, and whether each image's top class agrees.
  func compare(_ left: HostTensor, _ right: HostTensor) -> (maximum: Double, sameTop: [Bool]) {
    XCTAssertEqual(left.shape, right.shape)
    return ExportTestSupport.compareProbabilities(
      left.values.map(Double.init), right.values.map(Double.init), classCount: left.shape[1])
  }

  func testFloat32ExportPredictsWhatTheCheckpointPredicts() throws {
    let (expected, actual) = try probabilities(float16: false)
    let (maximum, sameTop) = compare(expected, actual)
    print("parse-back parity float32: max |p_checkpoint - p_mlmodel| = \(maximum)")
    XCTAssertLessThanOrEqual(maximum, Self.float32Tolerance)
    XCTAssertEqual(sameTop, [Bool](repeating: true, count: Self.photos.count))
  }

  func testFloat16ExportStaysCloseToTheCheckpoint() throws {
    let (expected, actual) = try probabilities(float16: true)
    let (maximum, sameTop) = compare(expected, actual)
    print("parse-back parity float16: max |p_checkpoint - p_mlmodel| = \(maximum)")
    XCTAssertLessThanOrEqual(maximum, Self.float16Tolerance)
    XCTAssertGreaterThan(maximum, 0, "half precision must change something; is it float32?")
    XCTAssertEqual(sameTop, [Bool](repeating: true, count: Self.photos.count))
  }
}
