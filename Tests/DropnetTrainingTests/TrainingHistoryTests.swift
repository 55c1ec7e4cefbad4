import DropnetMedia
import DropnetTestSupport
import XCTest

@testable import DropnetTraining

/// history.csv text, round trips, best-epoch choice and the curves figure.
final class TrainingHistoryTests: XCTestCase {
  private let history = TrainingHistory(epochs: [
    .init(
      epoch: 1, loss: 1.25, accuracy: 0.5, validationLoss: 1.5, validationAccuracy: 0.375,
      learningRate: 0.001, seconds: 12.5),
    .init(
      epoch: 2, loss: 0.75, accuracy: 0.8125, validationLoss: 0.875, validationAccuracy: 0.75,
      learningRate: 0.001, seconds: 11),
    .init(
      epoch: 3, loss: 0.5, accuracy: 0.875, validationLoss: 1.0, validationAccuracy: 0.75,
      learningRate: 0.0005, seconds: 11.25),
  ])

  func testCSVHasKerasColumnsAndExactNumbers() {
    XCTAssertEqual(
      history.csv,
      """
      epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds
      1,1.25,0.5,1.5,0.375,0.001,12.5
      2,0.75,0.8125,0.875,0.75,0.001,11.0
      3,0.5,0.875,1.0,0.75,0.0005,11.25

      """)
  }

  func testCSVRoundTripsIncludingUnmeasuredFigures() throws {
    var copy = history
    copy.append(
      .init(
        epoch: 4, loss: 0.1 + 0.2, accuracy: 1, validationLoss: .nan, validationAccuracy: .nan,
        learningRate: 1e-7, seconds: 3))
    XCTAssertTrue(copy.csv.contains("\n4,0.30000000000000004,1.0,,,1e-07,3.0\n"))
    XCTAssertEqual(try TrainingHistory(csv: copy.csv), copy)
    XCTAssertThrowsError(try TrainingHistory(csv: "loss,accuracy\n1,2\n")) {
      XCTAssertEqual(($0 as? TrainingError)?.code, .io)
    }
    XCTAssertThrowsError(try TrainingHistory(csv: TrainingHistory.header + "\n1,x,1,1,1,1,1\n"))
  }

  func testBestEpochByEachMonitor() {
    XCTAssertEqual(history.best(by: .validationLoss)?.epoch, 2)
    XCTAssertEqual(history.best(by: .validationAccuracy)?.epoch, 2, "the earliest of equals")
    XCTAssertEqual(history.best(by: .loss)?.epoch, 3)
    let unvalidated = TrainingHistory(epochs: [
      .init(
        epoch: 1, loss: 1, accuracy: 0.5, validationLoss: .nan, validationAccuracy: .nan,
        learningRate: 0.001, seconds: 1)
    ])
    XCTAssertNil(unvalidated.best(by: .validationLoss))
    XCTAssertEqual(unvalidated.best(by: .loss)?.epoch, 1)
  }

  func testFilesAreWritten() throws {
    let folder = try TestFiles.temporaryFolder(name)
    let csv = folder.appendingPathComponent("history.csv")
    try history.writeCSV(to: csv)
    XCTAssertEqual(try String(contentsOf: csv, encoding: .utf8), history.csv)

    let curves = folder.appendingPathComponent("curves.png")
    try history.writeCurves(to: curves, bestEpoch: history.best()?.epoch)
    let image = try Image(contentsOf: curves.path)
    // Two 640x400 plots stacked: loss above accuracy.
    XCTAssertEqual([image.width, image.height], [640, 800])
    // Both series are drawn in both plots: their colours appear in each half.
    let bytes = image.bytes
    func hasColour(_ red: UInt8, _ green: UInt8, _ blue: UInt8, rows: Range<Int>) -> Bool {
      rows.contains { y in
        (0..<640).contains { x in
          let at = (y * 640 + x) * 3
          return bytes[at] == blue && bytes[at + 1] == green && bytes[at + 2] == red
        }
      }
    }
    for half in [0..<400, 400..<800] {
      XCTAssertTrue(hasColour(31, 119, 180, rows: half), "train line in rows \(half)")
      XCTAssertTrue(hasColour(255, 127, 14, rows: half), "validation line in rows \(half)")
    }
    if let keep = ProcessInfo.processInfo.environment["DROPNET_KEEP_CURVES"] {
      try? FileManager.default.removeItem(atPath: keep)
      try FileManager.default.copyItem(atPath: curves.path, toPath: keep)
    }
  }
}
