import DropnetTestSupport
import Foundation
import XCTest

/// `--help` texts are paragraphs: the argument parser wraps them to the terminal, so a line
/// broken by hand in the source would be broken twice ("without\nleakage" mid-line).
final class HelpTests: XCTestCase {
  /// Every key of the example configuration file has a `dropnet serve` flag, whose help
  /// names the key.
  func testEveryConfigurationKeyHasAServeFlag() throws {
    let toml = try String(
      contentsOf: TestFiles.packageRoot.appendingPathComponent("systemd/dropnet.toml"),
      encoding: .utf8)
    var section = ""
    var keys: [String] = []
    for line in toml.components(separatedBy: "\n") {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("[") {
        section = String(trimmed.dropFirst().prefix { $0 != "]" })
      } else if !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") {
        keys.append(section + "." + trimmed[..<equals].trimmingCharacters(in: .whitespaces))
      }
    }
    XCTAssertGreaterThan(keys.count, 20, "the file's keys were not read")
    let help = try DropnetExecutable.run(["serve", "--help"])
    XCTAssertEqual(help.status, 0, help.output)
    for key in keys {
      XCTAssertTrue(help.output.contains(key + ":"), "serve --help names no flag for \(key)")
    }
  }

  func testHelpTextsHaveNoHandMadeLineBreaks() throws {
    let dump = try DropnetExecutable.run(["--experimental-dump-help"])
    XCTAssertEqual(dump.status, 0, dump.output)
    let root = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: Data(dump.output.utf8)) as? [String: Any])
    var commands = [(path: "dropnet", command: try XCTUnwrap(root["command"] as? [String: Any]))]
    var checked = 0
    while let (path, command) = commands.popLast() {
      XCTAssertFalse((command["abstract"] as? String ?? "").isEmpty, "\(path) has no abstract")
      let texts =
        [command["discussion"] as? String ?? ""]
        + (command["arguments"] as? [[String: Any]] ?? []).compactMap { $0["abstract"] as? String }
      for text in texts {
        // A newline may start a paragraph ("\n\n") or a list item ("\n- "), nothing else.
        let lines = text.components(separatedBy: "\n")
        for (index, line) in lines.enumerated().dropFirst()
        where !line.isEmpty && !line.hasPrefix("- ") && !lines[index - 1].isEmpty {
          XCTFail("\(path): a hand-made line break before \"\(line.prefix(40))\"")
        }
      }
      checked += 1
      for sub in command["subcommands"] as? [[String: Any]] ?? [] {
        commands.append(("\(path) \(sub["commandName"] as? String ?? "?")", sub))
      }
    }
    XCTAssertGreaterThanOrEqual(checked, 14, "every subcommand was checked")
  }
}
