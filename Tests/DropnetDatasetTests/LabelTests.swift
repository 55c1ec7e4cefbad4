import Foundation
import XCTest

@testable import DropnetDataset

final class LabelTests: XCTestCase {
  func testAcceptsPlainAndUnicodeNames() throws {
    for name in ["thumbs_up", "thumbs up", "rock-paper", "日本語", "café", "Ω2"] {
      XCTAssertEqual(try Label(validating: name).name, name.precomposedStringWithCanonicalMapping)
    }
  }

  func testRejectsHostileNamesWithTheReason() {
    let table: [(name: String, reason: String)] = [
      ("", "is empty"),
      (".", "parent folder"),
      ("..", "parent folder"),
      (".hidden", "starts with a dot"),
      ("a/b", "path separator"),
      ("../etc", "starts with a dot"),
      ("a\\b", "path separator"),
      ("nul\u{0}byte", "control character"),
      ("tab\there", "control character"),
      ("new\nline", "control character"),
      (" leading", "space"),
      ("trailing ", "space"),
      (String(repeating: "x", count: 201), "longer than"),
    ]
    for (name, reason) in table {
      XCTAssertThrowsError(try Label(validating: name), "\(Label.quoted(name))") { error in
        let error = error as? DatasetError
        XCTAssertEqual(error?.code, .invalidLabel)
        XCTAssertTrue(
          error?.message.contains(reason) ?? false, "\(error?.message ?? "") lacks \(reason)")
        XCTAssertTrue(error?.message.contains("rename") ?? false, "says what to do")
      }
    }
  }

  func testNFCAndNFDSpellingsAreOneLabel() throws {
    let composed = try Label(validating: "caf\u{E9}")
    let decomposed = try Label(validating: "cafe\u{301}")
    XCTAssertEqual(composed, decomposed)
    XCTAssertEqual(Array(decomposed.name.unicodeScalars), Array("caf\u{E9}".unicodeScalars))
  }

  func testCollisionKeyFoldsCase() throws {
    XCTAssertEqual(
      try Label(validating: "Cat").collisionKey, try Label(validating: "cat").collisionKey)
    XCTAssertNotEqual(try Label(validating: "Cat"), try Label(validating: "cat"))
  }

  func testDecodingRevalidates() {
    XCTAssertThrowsError(try JSONDecoder().decode([Label].self, from: Data(#"["../x"]"#.utf8)))
  }
}
