import DropnetCoreMLReader
import DropnetDataset
import DropnetEngine
import DropnetExport
import DropnetModel
import DropnetTestSupport
import DropnetTraining
import Foundation
import Logging
import XCTest

/// Exports of a checkpoint whose head was trained on the example frames (real photos rendered
/// into movies): training facts in the metadata, and parse-back parity of the whole model
/// (MobileNet body through the engine, the head's layers from the parsed file) with the
/// checkpoint as `dropnet predict` runs it (`CheckpointClassifier`), on the held-out photos.
final class TrainedHeadExportTests: XCTestCase {
  /// Float32 export: the head's batch norm folded into float32 inner-product weights (the
  /// checkpoint applies it in Double at run time) and the scaler's x * (1/127.5) - 1 versus
  /// (x - 127.5) / 127.5: float rounding only.
  static let float32Tolerance = 1e-4
  /// Float16 export: every weight rounded to 11 significant bits; the top class must not
  /// change. Measured when written: see the printed figure.
  static let float16Tolerance = 0.02

  func testExportCarriesTheTrainingFactsInUserDefinedMetadata() throws {
    let trained = try ExportTestSupport.trainedCheckpoint()
    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ExportTestSupport.exportCoreML(
      checkpoint: trained.checkpoint, name: "Example", to: folder,
      options: ExportOptions(dropnetVersion: "9.9.9"))
    let file = try CoreMLClassifierFile(contentsOf: result.mlmodelURL)
    let userDefined = file.metadata.userDefined
    for key in TrainingFacts.Key.all where key != TrainingFacts.Key.warmStartedFrom {
      XCTAssertNotNil(userDefined[key], "userDefined lacks \(key): \(userDefined.keys.sorted())")
    }
    XCTAssertEqual(TrainingFacts(entries: userDefined), trained.facts)
    XCTAssertEqual(
      userDefined[TrainingFacts.Key.classes], #"["fish","monument","tool","windmill"]"#)
    XCTAssertEqual(userDefined[TrainingFacts.Key.trainingDate], "2027-01-15T08:00:00Z")
    XCTAssertEqual(userDefined[TrainingFacts.Key.fineTuneMode], "head")
    XCTAssertEqual(userDefined["dropnet_version"], "9.9.9")
    XCTAssertEqual(
      userDefined["base_weights_sha256"], trained.checkpoint.metadata.sourceSHA256)
    XCTAssertEqual(file.classLabels, ["fish", "monument", "tool", "windmill"])
    // The folded head: Dense 1024 -> 256 (its BN folded into the next layer), ReLU, Dense.
    XCTAssertEqual(
      file.layers.suffix(4).map(\.kind), ["innerProduct", "activation", "innerProduct", "softmax"])
    XCTAssertEqual(result.summary.checkpointMetadata, trained.checkpoint.metadata.extra)
  }

  /// Largest |p_checkpoint - p_mlmodel| over the held-out photos, and whether each photo's
  /// top class agrees.
  private func parity(float16: Bool) throws -> (maximum: Double, sameTop: [Bool]) {
    let trained = try ExportTestSupport.trainedCheckpoint()
    let images = try ExportTestSupport.heldOutImages()
    XCTAssertEqual(images.count, 12)
    let side = ImagePreprocessor.inputSize

    let classifier = try CheckpointClassifier(
      checkpoint: trained.checkpoint, batchSize: images.count, threads: 2)
    let expected = try classifier.probabilities(
      ImagePreprocessor.batch(fromBGR: images, width: side, height: side))

    let folder = try ExportTestSupport.temporaryFolder(for: self)
    let result = try ExportTestSupport.exportCoreML(
      checkpoint: trained.checkpoint, name: "Parity", to: folder,
      options: ExportOptions(float16Weights: float16))
    let file = try CoreMLClassifierFile(contentsOf: result.mlmodelURL)
    XCTAssertEqual(file.classLabels, classifier.labels)
    let body = try MobileNetV1(
      weights: file.mobileNetWeights(), batchSize: images.count, threads: 2,
      classCount: file.engineClassCount())
    // CoreML gets RGB pixels and applies the file's own scaler.
    let rgb = images.map(ExportTestSupport.swappingRedAndBlue)
    let features = try body.forward(file.input(fromRGB: rgb)).features.values
    let actual = try file.probabilities(features: features)

    return ExportTestSupport.compareProbabilities(
      expected.map(Double.init), actual, classCount: classifier.labels.count)
  }

  func testFloat32ExportOfATrainedHeadPredictsWhatTheCheckpointPredicts() throws {
    let (maximum, sameTop) = try parity(float16: false)
    print("trained-head parse-back parity float32: max |p_checkpoint - p_mlmodel| = \(maximum)")
    XCTAssertLessThanOrEqual(maximum, Self.float32Tolerance)
    XCTAssertEqual(sameTop, [Bool](repeating: true, count: 12))
  }

  func testFloat16ExportOfATrainedHeadStaysCloseToTheCheckpoint() throws {
    let (maximum, sameTop) = try parity(float16: true)
    print("trained-head parse-back parity float16: max |p_checkpoint - p_mlmodel| = \(maximum)")
    XCTAssertLessThanOrEqual(maximum, Self.float16Tolerance)
    XCTAssertGreaterThan(maximum, 0, "half precision must change something; is it float32?")
    XCTAssertEqual(sameTop, [Bool](repeating: true, count: 12))
  }
}
