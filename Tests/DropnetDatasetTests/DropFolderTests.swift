import Foundation
import XCTest

@testable import DropnetDataset

final class DropFolderTests: XCTestCase {
  private func makeDrop(_ files: [String], folders: [String] = []) throws -> URL {
    let root = try TestMedia.temporaryFolder()
    for folder in folders {
      try FileManager.default.createDirectory(
        at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
    }
    for file in files {
      let url = root.appendingPathComponent(file)
      try FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data("x".utf8).write(to: url)
    }
    return root
  }

  func testLabelsComeFromStemOrFolder() throws {
    let root = try makeDrop([
      "thumbs_up.mov", "thumbs_up/clip-2.MP4", "peace sign/a b.m4v", "fist/one.Mov",
    ])
    let scan = try DropFolder(root: root).scan()
    XCTAssertEqual(
      scan.movies.map { "\($0.relativePath)=\($0.label)" },
      [
        "fist/one.Mov=fist", "peace sign/a b.m4v=peace sign", "thumbs_up.mov=thumbs_up",
        "thumbs_up/clip-2.MP4=thumbs_up",
      ])
    XCTAssertTrue(scan.skipped.isEmpty)
    XCTAssertTrue(scan.labelErrors.isEmpty)
  }

  func testIgnoresHiddenTemporaryAndOtherFilesWithAReason() throws {
    let root = try makeDrop(
      [
        ".hidden.mov", "copying.mov.part", "x.tmp", ".~lock.mov", "notes.txt", "ok.mov",
        "cls/.DS_Store", "cls/deep/inner.mov", "cls/b.mov", ".secret/a.mov", "backup.mov~",
      ])
    let scan = try DropFolder(root: root).scan()
    XCTAssertEqual(scan.movies.map(\.relativePath), ["cls/b.mov", "ok.mov"])
    let reasons = Dictionary(
      uniqueKeysWithValues: scan.skipped.map { ($0.relativePath, $0.reason) })
    XCTAssertEqual(reasons[".hidden.mov"], "hidden file")
    XCTAssertEqual(reasons[".~lock.mov"], "temporary file")
    XCTAssertEqual(reasons["copying.mov.part"], "temporary file (still being copied?)")
    XCTAssertEqual(reasons["x.tmp"], "temporary file (still being copied?)")
    XCTAssertEqual(reasons["backup.mov~"], "temporary file (still being copied?)")
    XCTAssertEqual(reasons["notes.txt"], "not a movie (accepted: .mov, .mp4, .m4v)")
    XCTAssertEqual(reasons["cls/.DS_Store"], "hidden file")
    XCTAssertEqual(reasons[".secret/"], "hidden folder")
    XCTAssertEqual(
      reasons["cls/deep/"], "nested folder (only one level of label folders is read)")
    XCTAssertEqual(scan.skipped.count, 9)
  }

  func testHostileLabelsAreReportedAndLeftOut() throws {
    let root = try makeDrop(["good.mov", " spaced.mov", "tab\tname.mov"])
    let scan = try DropFolder(root: root).scan()
    XCTAssertEqual(scan.movies.map(\.label.name), ["good"])
    XCTAssertEqual(scan.labelErrors.count, 2)
    XCTAssertTrue(scan.labelErrors.allSatisfy { $0.code == .invalidLabel })
  }

  func testCaseAndUnicodeCollisionsAreReportedNotMerged() throws {
    let root = try makeDrop([
      "Cat.mov", "cat/clip.mov", "dog.mov", "dog/two.mov", "caf\u{E9}.mov", "cafe\u{301}/x.mov",
    ])
    let scan = try DropFolder(root: root).scan()
    // The same spelling twice (dog) is one class; different spellings are not merged.
    XCTAssertEqual(scan.movies.map(\.relativePath), ["dog.mov", "dog/two.mov"])
    XCTAssertEqual(scan.labelErrors.map(\.code), [.labelCollision, .labelCollision])
    XCTAssertTrue(scan.labelErrors.contains { $0.message.contains("\"Cat\", \"cat\"") })
  }

  func testPathTraversalCannotEscape() throws {
    // A crafted candidate list, as if a file system allowed these names.
    let url = URL(fileURLWithPath: "/dev/null")
    let scan = DropFolder.applyLabels(
      to: [("../../etc.mov", "../../etc", url), ("..", "..", url), ("a/b.mov", "a/b", url)],
      skipped: [])
    XCTAssertTrue(scan.movies.isEmpty)
    XCTAssertEqual(scan.labelErrors.count, 3)
  }

  func testMissingDropFolderSaysWhatToDo() {
    XCTAssertThrowsError(try DropFolder(root: URL(fileURLWithPath: "/nonexistent/drop")).scan()) {
      XCTAssertEqual(($0 as? DatasetError)?.code, .missingFolder)
      XCTAssertTrue("\($0)".contains("--drop"))
    }
  }
}
