import DropnetEngine
import Foundation
import XCTest

@testable import DropnetModel

final class ImagePreprocessorTests: XCTestCase {
  func testFramingNamesWhatVisionGivesTheModel() {
    typealias Row = (
      framing: InputFraming, width: Int, height: Int, expected: ImagePreprocessor.CropRectangle
    )
    let table: [Row] = [
      // .centerCrop: the centred square of the shorter side.
      (.centerCrop, 1920, 1080, .init(x: 420, y: 0, width: 1080, height: 1080)),
      (.centerCrop, 300, 451, .init(x: 0, y: 75, width: 300, height: 300)),
      (.centerCrop, 480, 480, .init(x: 0, y: 0, width: 480, height: 480)),
      (.centerCrop, 1, 1, .init(x: 0, y: 0, width: 1, height: 1)),
      // .scaleFill: everything, squashed later.
      (.scaleFill, 1920, 1080, .init(x: 0, y: 0, width: 1920, height: 1080)),
    ]
    for row in table {
      XCTAssertEqual(
        row.framing.sourceRectangle(width: row.width, height: row.height), row.expected, "\(row)")
    }
    XCTAssertEqual(
      InputFraming.centerCrop.visionOption, "request.imageCropAndScaleOption = .centerCrop")
  }

  func testCropCopiesTheRightPixels() throws {
    // A 4x3 image whose pixel (x, y) holds bytes (10y + x, 100 + 10y + x, 200 + x).
    var pixels: [UInt8] = []
    for y in 0..<3 {
      for x in 0..<4 { pixels += [UInt8(10 * y + x), UInt8(100 + 10 * y + x), UInt8(200 + x)] }
    }
    let cropped = try ImagePreprocessor.crop(
      pixels, width: 4, height: 3, to: .init(x: 1, y: 1, width: 2, height: 2))
    XCTAssertEqual(cropped, [11, 111, 201, 12, 112, 202, 21, 121, 201, 22, 122, 202])
  }

  func testCropOutsideTheImageIsRefused() {
    let pixels = [UInt8](repeating: 0, count: 4 * 3 * 3)
    assertModelError(.invalidImage) {
      try ImagePreprocessor.crop(
        pixels, width: 4, height: 3, to: .init(x: 3, y: 0, width: 2, height: 1))
    }
    assertModelError(.invalidImage) {
      try ImagePreprocessor.crop(
        pixels, width: 5, height: 3, to: .init(x: 0, y: 0, width: 1, height: 1))
    }
  }

  func testBGRBecomesRGBInMinusOneToOne() throws {
    let size = ImagePreprocessor.inputSize
    var pixels = [UInt8](repeating: 0, count: size * size * 3)
    // First pixel: B=0, G=255, R=51; last pixel: B=200, G=128, R=127.
    pixels[0] = 0
    pixels[1] = 255
    pixels[2] = 51
    let last = pixels.count - 3
    pixels[last] = 200
    pixels[last + 1] = 128
    pixels[last + 2] = 127
    let tensor = try ImagePreprocessor.tensor(fromBGR: pixels, width: size, height: size)
    XCTAssertEqual(tensor.shape, [1, 224, 224, 3])
    XCTAssertEqual(Array(tensor.values.prefix(3)), [-0.6, 1, -1])
    let red: Float = (127 - 127.5) / 127.5
    let green: Float = (128 - 127.5) / 127.5
    let blue: Float = (200 - 127.5) / 127.5
    XCTAssertEqual(Array(tensor.values.suffix(3)), [red, green, blue])
    XCTAssertTrue(tensor.values.dropFirst(3).dropLast(3).allSatisfy { $0 == -1 })
  }

  func testBatchKeepsImageOrder() throws {
    let size = ImagePreprocessor.inputSize
    let dark = [UInt8](repeating: 0, count: size * size * 3)
    let bright = [UInt8](repeating: 255, count: size * size * 3)
    let batch = try ImagePreprocessor.batch(
      fromRGB: [dark, bright, dark], width: size, height: size)
    XCTAssertEqual(batch.shape, [3, 224, 224, 3])
    let perImage = size * size * 3
    XCTAssertEqual(batch.values[0], -1)
    XCTAssertEqual(batch.values[perImage], 1)
    XCTAssertEqual(batch.values[2 * perImage + perImage - 1], -1)
  }

  func testReferenceInputMatchesTheFixturesFormula() throws {
    // The fixtures feed TensorFlow (x - 127.5) / 127.5 computed in float32; every byte value
    // must map to exactly that float.
    for byte in 0...255 {
      let expected = (Float(byte) - Float(127.5)) / Float(127.5)
      XCTAssertEqual(ImagePreprocessor.normalized(UInt8(byte)), expected)
    }
    let bytes = try Data(
      contentsOf: ModelTestSupport.referenceFolder.appendingPathComponent("coffee.rgb"))
    XCTAssertEqual(bytes.count, 224 * 224 * 3)
  }

  func testWrongSizesAreRefused() {
    assertModelError(.invalidImage) {
      try ImagePreprocessor.tensor(fromBGR: [0, 0, 0], width: 1, height: 1)
    }
    assertModelError(.invalidImage) {
      try ImagePreprocessor.tensor(fromBGR: [0, 0], width: 224, height: 224)
    }
  }
}
