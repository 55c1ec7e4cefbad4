import DropnetTestSupport
import Foundation
import XCTest

/// The two unit files in systemd/: one unit, and as hardened as measured.
final class UnitFileTests: XCTestCase {
  static let folder = TestFiles.packageRoot.appendingPathComponent("systemd")

  /// The lines that name the instance: the template's text, then the plain unit's.
  static let instanceLines = [
    ("dropnet (%i):", "dropnet:"),
    ("/srv/dropnet/%i", "/srv/dropnet"),
    ("/etc/dropnet/%i.toml", "/etc/dropnet/dropnet.toml"),
    ("StateDirectory=dropnet/%i", "StateDirectory=dropnet"),
    ("/var/lib/dropnet/NAME:", "/var/lib/dropnet:"),
  ]

  /// Everything from `[Unit]` on: the header comments differ.
  static func body(_ file: String) throws -> String {
    let text = try String(
      contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
    guard let start = text.range(of: "[Unit]") else {
      throw TestFiles.Missing("\(file) has no [Unit] section")
    }
    return String(text[start.lowerBound...])
  }

  func testPlainUnitIsTheTemplateForTheDefaultInstance() throws {
    var template = try Self.body("dropnet@.service")
    for (instance, plain) in Self.instanceLines {
      template = template.replacingOccurrences(of: instance, with: plain)
    }
    let plain = try Self.body("dropnet.service")
    let templateLines = template.split(separator: "\n", omittingEmptySubsequences: false)
    let plainLines = plain.split(separator: "\n", omittingEmptySubsequences: false)
    let differences = zip(templateLines, plainLines).enumerated().filter {
      $0.element.0 != $0.element.1
    }
    .map {
      "line \($0.offset + 1) of [Unit]...: template \"\($0.element.0)\", plain \"\($0.element.1)\""
    }
    XCTAssertEqual(
      differences, [],
      "dropnet.service must be dropnet@.service for the default instance; change both")
    XCTAssertEqual(templateLines.count, plainLines.count)
    XCTAssertFalse(template.contains("%i"), "a line names the instance that instanceLines lacks")
  }

  func testBothUnitsRateSafe() throws {
    let analyze = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
    guard FileManager.default.isExecutableFile(atPath: analyze.path) else {
      throw TestFiles.Missing("\(analyze.path) is not installed (Debian package systemd)")
    }
    for file in ["dropnet.service", "dropnet@.service"] {
      let result = try ChildProcess.run(
        analyze,
        ["security", "--offline=yes", "--no-pager", Self.folder.appendingPathComponent(file).path])
      // "→ Overall exposure level for dropnet.service: 0.2 SAFE 😀"
      let overall = result.output.split(separator: "\n").first {
        $0.contains("Overall exposure level")
      }
      let score: Double? = overall?.split(separator: ":").last?.split(separator: " ").first
        .flatMap { Double(String($0)) }
      let rated = try XCTUnwrap(score, "no overall exposure in:\n\(result.output)")
      XCTAssertLessThanOrEqual(rated, 0.2, "\(file): \(overall ?? "")")
      print("systemd-analyze security --offline=yes systemd/\(file): \(rated)")
    }
  }
}
