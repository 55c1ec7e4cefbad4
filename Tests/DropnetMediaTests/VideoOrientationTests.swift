import DropnetMedia
import DropnetTestSupport
import Foundation
import XCTest

/// Portrait movies carry a rotation in their display matrix. OpenCV 4.6 applies it the wrong
/// way (opencv#22088), so dropnet turns auto-orientation off and rotates by the metadata itself.
/// These tests check the result against FFmpeg's own decoding, which applies the matrix.
final class VideoOrientationTests: XCTestCase {
  /// Mean absolute difference per byte allowed between dropnet's frame and ffmpeg's: the same
  /// decoder decodes both, so only the final colour conversion (swscale vs OpenCV) differs.
  let sameFrameTolerance = 6.0
  /// A rotated or mirrored photo differs by far more than that.
  let differentFrameMinimum = 20.0

  private func meanAbsoluteDifference(_ left: Image, _ right: Image) -> Double {
    let a = left.bytes
    let b = right.bytes
    precondition(a.count == b.count)
    var total = 0
    for index in a.indices { total += abs(Int(a[index]) - Int(b[index])) }
    return Double(total) / Double(a.count)
  }

  func testRotatedMovieIsDecodedUprightLikeFFmpeg() throws {
    let folder = try TestFiles.temporaryFolder()
    let base = folder.appendingPathComponent("base.mp4")
    // A real photo (OpenCV's fruits.jpg), landscape 320x240, 1 s.
    try TestFiles.ffmpeg([
      "-loop", "1", "-i", try TestFiles.opencvSample("fruits.jpg").path, "-t", "1", "-r", "10",
      "-vf", "scale=320:240", "-c:v", "libx264", "-pix_fmt", "yuv420p", base.path,
    ])
    for degrees in [90, 180, 270] {
      let rotated = folder.appendingPathComponent("rotated-\(degrees).mov")
      try TestFiles.ffmpeg([
        "-i", base.path, "-c", "copy", "-metadata:s:v:0", "rotate=\(degrees)", rotated.path,
      ])
      // FFmpeg's own decoding, with its auto-rotation.
      let reference = folder.appendingPathComponent("reference-\(degrees).png")
      try TestFiles.ffmpeg(["-i", rotated.path, "-frames:v", "1", reference.path])
      let expected = try Image(contentsOf: reference.path)

      let reader = try VideoReader(path: rotated.path)
      XCTAssertNotEqual(reader.info.rotationClockwiseDegrees, 0, "metadata read for \(degrees)")
      XCTAssertTrue(try reader.advance())
      let frame = try reader.currentFrame()
      XCTAssertEqual([frame.width, frame.height], [expected.width, expected.height], "\(degrees)")
      let difference = meanAbsoluteDifference(frame, expected)
      XCTAssertLessThan(difference, sameFrameTolerance, "rotation \(degrees)")

      // The test can tell a wrong rotation from a right one.
      let wrong = try frame.rotated(clockwiseDegrees: 180)
      XCTAssertGreaterThan(meanAbsoluteDifference(wrong, expected), differentFrameMinimum)
    }
  }

  func testUnrotatedMovieReportsNoRotation() throws {
    let reader = try VideoReader(path: try TestFiles.opencvSample("vtest.avi").path)
    XCTAssertEqual(reader.info.rotationClockwiseDegrees, 0)
    XCTAssertEqual([reader.info.width, reader.info.height], [768, 576])
    XCTAssertEqual(reader.info.framesPerSecond, 10, accuracy: 0.01)
  }
}
