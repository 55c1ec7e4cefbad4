import Foundation

/// Writes to the terminal: a progress line redrawn in place when stderr is a terminal, plain
/// lines otherwise, and tables for summaries.
final class Terminal {
  let isInteractive: Bool
  private var hasProgressLine = false

  init(isInteractive: Bool = isatty(STDERR_FILENO) == 1) {
    self.isInteractive = isInteractive
  }

  /// Redraws the progress line (terminals only).
  func progress(_ text: String) {
    guard isInteractive else { return }
    let width = 100
    let line = text.count > width ? String(text.prefix(width - 1)) + "…" : text
    FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
    hasProgressLine = true
  }

  /// Prints a line to stderr, clearing the progress line first.
  func note(_ text: String) {
    clearProgress()
    FileHandle.standardError.write(Data((text + "\n").utf8))
  }

  func clearProgress() {
    guard hasProgressLine else { return }
    FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    hasProgressLine = false
  }

  /// Prints `value` to stdout as pretty JSON with sorted keys (`--json` output).
  static func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
  }

  /// Formats rows as a left/right aligned text table (numbers right-aligned).
  static func table(header: [String], rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    func render(_ row: [String]) -> String {
      row.enumerated().map { column, cell in
        let padding = String(repeating: " ", count: widths[column] - cell.count)
        return column == 0 ? cell + padding : padding + cell
      }.joined(separator: "  ")
    }
    let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
    return ([render(header), rule] + rows.map(render)).joined(separator: "\n")
  }
}
