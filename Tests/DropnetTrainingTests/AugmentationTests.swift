import DropnetArchitecture
import DropnetMedia
import DropnetTestSupport
import XCTest

@testable import DropnetTraining

/// Exact geometry and arithmetic of the augmentation, on synthetic markers and a real photo.
final class AugmentationTests: XCTestCase {
  private let side = 224
  // Pixel-centre coordinates of the image centre: (224 - 1) / 2.
  private let centre = 111.5

  /// A black 224x224 image with white pixels at `points` (x, y).
  private func marker(_ points: [(x: Int, y: Int)]) throws -> Image {
    var bytes = [UInt8](repeating: 0, count: side * side * 3)
    for point in points {
      for channel in 0..<3 { bytes[(point.y * side + point.x) * 3 + channel] = 255 }
    }
    return try Image(bytes: bytes, width: side, height: side, channelCount: 3)
  }

  /// The brightest pixel's (x, y), first in row order.
  private func brightest(_ image: Image) -> (x: Int, y: Int, value: UInt8) {
    let bytes = image.bytes
    var best = (x: 0, y: 0, value: UInt8(0))
    for y in 0..<image.height {
      for x in 0..<image.width where bytes[(y * image.width + x) * 3] > best.value {
        best = (x, y, bytes[(y * image.width + x) * 3])
      }
    }
    return best
  }

  private func pixel(_ bytes: [UInt8], _ x: Int, _ y: Int) -> ArraySlice<UInt8> {
    bytes[((y * side + x) * 3)..<((y * side + x) * 3 + 3)]
  }

  /// A real street photo (OpenCV's sample) resized to 224x224.
  private func photo() throws -> Image {
    try Image(contentsOf: TestFiles.opencvSample("baboon.jpg").path).resized(
      width: side, height: side)
  }

  private func transform(_ configure: (inout Augmentation.Transform) -> Void)
    -> Augmentation
    .Transform
  {
    var transform = Augmentation.Transform()
    configure(&transform)
    return transform
  }

  func testQuarterTurnMovesAPixelWhereTheMatrixSays() throws {
    // (150, 112) is (38.5, 0.5) from the centre; a quarter turn counter-clockwise on screen
    // takes (dx, dy) to (dy, -dx) = (0.5, -38.5): pixel (112, 73).
    let turned = try Augmentation().apply(transform { $0.angle = 90 }, to: marker([(150, 112)]))
    let found = brightest(turned)
    XCTAssertEqual([found.x, found.y], [112, 73])
    XCTAssertEqual(found.value, 255, "a quarter turn maps pixel centres onto pixel centres")
    let matrix = transform { $0.angle = 90 }.matrix(side: side)
    for (value, expected) in zip(matrix, [0, 1, 0, -1, 0, 223]) {
      XCTAssertEqual(value, Double(expected), accuracy: 1e-12)
    }
  }

  func testArbitraryRotationFollowsTheFormula() throws {
    for angle in [-45.0, -30, 17, 45] {
      let radians = angle * .pi / 180
      let (dx, dy) = (60.5, -20.5)  // the marker at (172, 91)
      let expectedX = centre + cos(radians) * dx + sin(radians) * dy
      let expectedY = centre - sin(radians) * dx + cos(radians) * dy
      let turned = try Augmentation().apply(
        transform { $0.angle = angle }, to: marker([(172, 91)]))
      let found = brightest(turned)
      // The brightest pixel is a neighbour of the exact spot (bilinear weights spread it).
      XCTAssertLessThan(abs(Double(found.x) - expectedX), 1, "angle \(angle)")
      XCTAssertLessThan(abs(Double(found.y) - expectedY), 1, "angle \(angle)")
      XCTAssertGreaterThan(found.value, 50, "the marker survives interpolation")
    }
  }

  func testShiftMovesEveryPixelByWholePixels() throws {
    let source = try photo()
    let shifted = try Augmentation().apply(
      transform {
        $0.shiftX = 20
        $0.shiftY = -10
      }, to: source)
    let (input, output) = (source.bytes, shifted.bytes)
    for y in 0..<(side - 10) {
      for x in 20..<side {
        XCTAssertEqual(pixel(output, x, y), pixel(input, x - 20, y + 10), "(\(x), \(y))")
      }
    }
    // Keras' "nearest" fill: the uncovered left strip repeats the source's first column.
    XCTAssertEqual(pixel(output, 0, 50), pixel(input, 0, 60))
    XCTAssertEqual(pixel(output, 19, 50), pixel(input, 0, 60))
  }

  func testZoomScalesAboutTheCentre() throws {
    // A 20-pixel white square centred on the image: columns and rows 102...121.
    var points: [(x: Int, y: Int)] = []
    for y in 102...121 { for x in 102...121 { points.append((x, y)) } }
    let square = try marker(points)
    func brightColumns(_ image: Image) -> [Int] {
      let bytes = image.bytes
      return (0..<side).filter { bytes[(111 * side + $0) * 3] > 127 }
    }
    // Zoom 0.5 spans half the source: the square doubles to 40 pixels, still centred.
    let enlarged = brightColumns(
      try Augmentation().apply(
        transform {
          $0.zoomX = 0.5
          $0.zoomY = 0.5
        }, to: square))
    XCTAssertEqual(enlarged.count, 40)
    XCTAssertEqual(Double(enlarged.first! + enlarged.last!) / 2, centre)
    // Zoom 2 halves it to 10 pixels.
    let shrunk = brightColumns(
      try Augmentation().apply(
        transform {
          $0.zoomX = 2
          $0.zoomY = 2
        }, to: square))
    XCTAssertEqual(shrunk.count, 10)
    XCTAssertEqual(Double(shrunk.first! + shrunk.last!) / 2, centre)
  }

  func testFlipMirrorsLeftToRight() throws {
    let source = try photo()
    let flipped = try Augmentation().apply(transform { $0.flip = true }, to: source)
    let (input, output) = (source.bytes, flipped.bytes)
    for y in stride(from: 0, to: side, by: 7) {
      for x in 0..<side {
        XCTAssertEqual(pixel(output, x, y), pixel(input, side - 1 - x, y), "(\(x), \(y))")
      }
    }
    XCTAssertFalse(Augmentation().horizontalFlip, "flip is off by default")
    var random = SeededRandom(seed: 1)
    XCTAssertFalse(
      (0..<200).contains { _ in Augmentation().drawTransform(using: &random).flip },
      "no draw flips when flipping is off")
  }

  func testBrightnessAndChannelShiftArithmetic() throws {
    // Every byte value once, in a 16x16 image.
    let values = (0..<256).map { UInt8($0) }
    let ramp = try Image(
      bytes: values.flatMap { [$0, $0, $0] }, width: 16, height: 16, channelCount: 3)
    var settings = Augmentation.identity
    settings.outputSide = 16
    for (gain, shift) in [(1.3, 0.0), (0.7, 0.0), (1.0, 37.2), (1.0, -41.7), (1.25, -12.3)] {
      let output = try settings.apply(
        transform {
          $0.brightness = gain
          $0.channelShift = shift
        }, to: ramp
      ).bytes
      for value in 0..<256 {
        let exact = Double(value) * gain + shift
        // OpenCV computes in Float: a value within 0.001 of a half may round either way.
        let nearHalf = abs(exact - exact.rounded(.down) - 0.5) < 0.001
        let candidates =
          (nearHalf ? [exact.rounded(.down), exact.rounded(.up)] : [exact.rounded()])
          .map { UInt8(max(0, min(255, $0))) }
        for channel in 0..<3 {
          XCTAssertTrue(
            candidates.contains(output[value * 3 + channel]),
            "v \(value) gain \(gain) shift \(shift): \(output[value * 3 + channel]) not in \(candidates)"
          )
        }
      }
    }
  }

  func testIdentitySettingsArePlainResize() throws {
    let frame = try Image(contentsOf: TestFiles.opencvSample("baboon.jpg").path)
    var random = SeededRandom(seed: 3)
    let identity = Augmentation.identity
    let drawn = identity.drawTransform(using: &random)
    XCTAssertEqual(drawn, Augmentation.Transform())
    let output = try identity.apply(drawn, to: frame)
    XCTAssertEqual([output.width, output.height], [224, 224])
    XCTAssertEqual(output.bytes, try frame.resized(width: 224, height: 224).bytes)
  }

  func testDrawsAreSeededAndStayInRange() throws {
    let settings = Augmentation()
    var first = SeededRandom(seed: 42)
    var second = SeededRandom(seed: 42)
    var other = SeededRandom(seed: 43)
    var draws: [Augmentation.Transform] = []
    for _ in 0..<2000 {
      let draw = settings.drawTransform(using: &first)
      XCTAssertEqual(draw, settings.drawTransform(using: &second))
      draws.append(draw)
    }
    XCTAssertNotEqual(draws[0], settings.drawTransform(using: &other))
    func covers(_ values: [Double], _ low: Double, _ high: Double) {
      XCTAssertGreaterThanOrEqual(values.min()!, low)
      XCTAssertLessThanOrEqual(values.max()!, high)
      // 2000 uniform draws come within 2% of both ends.
      XCTAssertLessThan(values.min()! - low, (high - low) * 0.02)
      XCTAssertLessThan(high - values.max()!, (high - low) * 0.02)
    }
    covers(draws.map(\.angle), -45, 45)
    covers(draws.map(\.zoomX), 0.7, 1.3)
    covers(draws.map(\.zoomY), 0.7, 1.3)
    covers(draws.map(\.shiftX), -44.8, 44.8)
    covers(draws.map(\.shiftY), -44.8, 44.8)
    covers(draws.map(\.brightness), 0.6, 1.4)
    covers(draws.map(\.channelShift), -50, 50)
    var flipping = settings
    flipping.horizontalFlip = true
    var random = SeededRandom(seed: 7)
    let flips = (0..<2000).filter { _ in flipping.drawTransform(using: &random).flip }.count
    XCTAssertEqual(Double(flips), 1000, accuracy: 100)

    // The same seed gives the same pixels.
    let photo = try photo()
    var a = SeededRandom(seed: 9)
    var b = SeededRandom(seed: 9)
    XCTAssertEqual(
      try settings.apply(to: photo, using: &a).bytes, try settings.apply(to: photo, using: &b).bytes
    )
  }

  func testOutputIsSquareForAnyInputAndSettingsAreChecked() throws {
    let frame = try Image(
      bytes: [UInt8](repeating: 90, count: 320 * 240 * 3), width: 320, height: 240,
      channelCount: 3)
    var random = SeededRandom(seed: 5)
    let output = try Augmentation().apply(to: frame, using: &random)
    XCTAssertEqual([output.width, output.height, output.channelCount], [224, 224, 3])
    try Augmentation().validate()
    var bad = Augmentation()
    bad.zoomRange = 1
    XCTAssertThrowsError(try bad.validate()) {
      XCTAssertEqual(($0 as? TrainingError)?.code, .invalidSetting)
    }
    bad = Augmentation()
    bad.brightnessRange = 0...0.9
    XCTAssertThrowsError(try bad.validate())
  }
}
