import DropnetMedia
import DropnetTestSupport
import Foundation
import XCTest

final class ImageTests: XCTestCase {
  /// A 3x2 BGR image whose pixels are all distinct.
  private func tiny() throws -> Image {
    try Image(bytes: Array(0..<18).map { UInt8($0 * 10) }, width: 3, height: 2, channelCount: 3)
  }

  private func pixel(_ image: Image, x: Int, y: Int) -> [UInt8] {
    let start = (y * image.width + x) * 3
    return Array(image.bytes[start..<start + 3])
  }

  func testRotationMovesPixelsExactly() throws {
    let image = try tiny()
    let clockwise = try image.rotated(clockwiseDegrees: 90)
    XCTAssertEqual([clockwise.width, clockwise.height], [2, 3])
    // Clockwise: the bottom-left pixel becomes the top-left one.
    XCTAssertEqual(pixel(clockwise, x: 0, y: 0), pixel(image, x: 0, y: 1))
    XCTAssertEqual(pixel(clockwise, x: 1, y: 0), pixel(image, x: 0, y: 0))
    let half = try image.rotated(clockwiseDegrees: 180)
    XCTAssertEqual(pixel(half, x: 0, y: 0), pixel(image, x: 2, y: 1))
    let back = try clockwise.rotated(clockwiseDegrees: 270)
    XCTAssertEqual(back.bytes, image.bytes)
    XCTAssertThrowsError(try image.rotated(clockwiseDegrees: 45)) {
      XCTAssertEqual(($0 as? MediaError)?.code, .argument)
    }
  }

  func testSharpnessFallsWithBlurAndHashStaysClose() throws {
    let photo = try Image(contentsOf: try TestFiles.opencvSample("baboon.jpg").path)
    let folder = try TestFiles.temporaryFolder()
    let blurredPath = folder.appendingPathComponent("blurred.png").path
    try TestFiles.ffmpeg([
      "-i", try TestFiles.opencvSample("baboon.jpg").path, "-vf", "boxblur=4", blurredPath,
    ])
    let blurred = try Image(contentsOf: blurredPath)
    XCTAssertLessThan(try blurred.sharpness(), 0.3 * (try photo.sharpness()))
    // The same scene, blurred: its difference hash stays within a few bits.
    let distance = (try photo.differenceHash() ^ blurred.differenceHash()).nonzeroBitCount
    XCTAssertLessThanOrEqual(distance, 8)
    let other = try Image(contentsOf: try TestFiles.opencvSample("fruits.jpg").path)
    XCTAssertGreaterThan((try photo.differenceHash() ^ other.differenceHash()).nonzeroBitCount, 16)
  }

  func testJPEGRoundTripAndErrors() throws {
    let photo = try Image(contentsOf: try TestFiles.opencvSample("baboon.jpg").path)
    let small = try photo.limited(toMaxSide: 100)
    XCTAssertEqual(max(small.width, small.height), 100)
    let path = try TestFiles.temporaryFolder().appendingPathComponent("x.jpg").path
    try small.writeJPEG(to: path, quality: 95)
    let read = try Image(contentsOf: path)
    XCTAssertEqual([read.width, read.height], [small.width, small.height])
    XCTAssertThrowsError(try Image(contentsOf: "/nonexistent.jpg")) {
      XCTAssertEqual(($0 as? MediaError)?.code, .open)
      XCTAssertEqual(($0 as? MediaError)?.path, "/nonexistent.jpg")
    }
    XCTAssertThrowsError(try small.writeJPEG(to: "/nonexistent-folder/x.jpg")) {
      XCTAssertNotNil($0 as? MediaError)
    }
  }

  func testLinePlotDrawsAPNG() throws {
    let path = try TestFiles.temporaryFolder().appendingPathComponent("curves.png").path
    let plot = LinePlot(
      title: "loss", xLabel: "epoch",
      series: [
        .init(name: "train", values: [1, 0.6, 0.4, 0.3], color: (red: 30, green: 90, blue: 200)),
        .init(
          name: "validation", values: [1.1, 0.8, .nan, 0.5], color: (red: 220, green: 80, blue: 30)),
      ])
    try plot.write(to: path)
    let image = try Image(contentsOf: path)
    XCTAssertEqual([image.width, image.height], [640, 400])
    // Not blank: the curves' colours are present.
    let bytes = image.bytes
    var blueish = 0
    for start in stride(from: 0, to: bytes.count, by: 3)
    where bytes[start] > 150 && bytes[start + 2] < 80 {
      blueish += 1
    }
    XCTAssertGreaterThan(blueish, 100)
  }

  func testPlotAxisEndsOnRoundTicks() {
    // (data low, data high) -> (axis low, axis high, tick step)
    let table: [(Double, Double, Double, Double, Double)] = [
      (0, 1, 0, 1, 0.2),
      (0.23, 1.04, 0.2, 1.2, 0.2),
      (0, 2.28, 0, 2.5, 0.5),
      (-0.103, 2.28, -0.5, 2.5, 0.5),
      (3, 3, 2.4, 3.6, 0.2),
      (0, 130, 0, 150, 50),
    ]
    for (low, high, axisLow, axisHigh, step) in table {
      let axis = LinePlot.axis(low: low, high: high)
      XCTAssertEqual(axis.low, axisLow, accuracy: 1e-12, "\(low)...\(high)")
      XCTAssertEqual(axis.high, axisHigh, accuracy: 1e-12, "\(low)...\(high)")
      XCTAssertLessThanOrEqual(axis.low, low)
      XCTAssertGreaterThanOrEqual(axis.high, high)
      for (previous, next) in zip(axis.ticks, axis.ticks.dropFirst()) {
        XCTAssertEqual(next - previous, step, accuracy: 1e-9, "\(low)...\(high)")
      }
    }
  }

  func testPlotAxisHonoursFixedBounds() {
    var plot = LinePlot(
      title: "accuracy", xLabel: "epoch",
      series: [.init(name: "train", values: [0.4, 0.7, 0.9], color: (red: 0, green: 0, blue: 0))])
    XCTAssertEqual(plot.yAxis.low, 0.4, accuracy: 1e-12)
    plot.yMinimum = 0
    plot.yMaximum = 1
    XCTAssertEqual(plot.yAxis, LinePlot.axis(low: 0, high: 1))
  }

  func testPlotMarksAPointWithADashedLine() throws {
    let folder = try TestFiles.temporaryFolder()
    var plot = LinePlot(
      title: "loss", xLabel: "epoch",
      series: [
        .init(
          name: "train", values: [1, 0.6, 0.4, 0.3, 0.2], color: (red: 30, green: 90, blue: 200))
      ])
    let plain = folder.appendingPathComponent("plain.png").path
    try plot.write(to: plain)
    plot.markedPoint = 2
    let marked = folder.appendingPathComponent("marked.png").path
    try plot.write(to: marked)
    let before = try Image(contentsOf: plain).bytes
    let after = try Image(contentsOf: marked)
    let afterBytes = after.bytes
    // The middle point of 5 sits at the centre of the plot area (x = 60 + 560 / 2).
    let column = 60 + 280
    var changedInColumn = 0
    var changedElsewhere = 0
    for row in 40..<355 {
      for x in 0..<after.width {
        let offset = (row * after.width + x) * 3
        guard before[offset] != afterBytes[offset] else { continue }
        if abs(x - column) <= 1 { changedInColumn += 1 } else { changedElsewhere += 1 }
      }
    }
    XCTAssertGreaterThan(changedInColumn, 100)
    XCTAssertEqual(changedElsewhere, 0)
  }
}
