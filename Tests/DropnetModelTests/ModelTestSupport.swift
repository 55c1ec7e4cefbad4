import Foundation
import XCTest

@testable import DropnetModel

/// Paths and helpers shared by the DropnetModel tests.
enum ModelTestSupport {
  /// The package root, found from this file's location.
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // DropnetModelTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

  /// The reference fixtures written by Fixtures/make_reference.py.
  static let referenceFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .appendingPathComponent("Fixtures/reference")

  /// Reference photo stems (see Fixtures/reference/README.md).
  static let referencePhotos = ["baboon", "orange", "squirrel", "chelsea", "coffee"]

  /// Thrown (failing the test) when the real weights have not been fetched.
  struct MissingWeights: Error, CustomStringConvertible {
    var path: String
    var description: String {
      "\(path) is missing: run examples/fetch-weights.sh from the package root first"
    }
  }

  /// The real ImageNet MobileNet v1 graph; throws `MissingWeights` when it is absent.
  static func realGraph() throws -> URL {
    let url = packageRoot.appendingPathComponent("examples/weights/mobilenet_v1_imagenet.pb")
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw MissingWeights(path: url.path)
    }
    return url
  }

  /// A fresh empty folder, removed when the test ends.
  static func temporaryFolder(for testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("dropnet-model-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }

  /// The JSON object stored in a reference fixture file.
  static func referenceJSON(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: referenceFolder.appendingPathComponent(name))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
  }
}

/// Asserts that `body` throws a `ModelError` with `code`; returns it for further checks.
@discardableResult
func assertModelError<T>(
  _ code: ModelError.Code, file: StaticString = #filePath, line: UInt = #line,
  _ body: () throws -> T
) -> ModelError? {
  do {
    _ = try body()
    XCTFail("expected ModelError.\(code), nothing was thrown", file: file, line: line)
  } catch let error as ModelError {
    XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
    return error
  } catch {
    XCTFail("expected ModelError.\(code), got \(error)", file: file, line: line)
  }
  return nil
}
