import DropnetTestSupport
import Foundation

/// One unit's journal entries inside a `SystemdContainer` (`journalctl -u UNIT`), from the
/// moment this was made (or from the start), and the unit's `StatusText`.
struct UnitJournal {
  let container: SystemdContainer
  let unit: String
  /// The journal's newest entry when this was made: entries up to it are not read.
  let cursor: String?

  /// The entries logged from now on (`fromStart`: all of them).
  init(container: SystemdContainer, unit: String, fromStart: Bool = false) throws {
    self.container = container
    self.unit = unit
    cursor = fromStart ? nil : try Journald.cursor(launcher: container.launcher)
  }

  /// The unit's entries matching `matches` (same field = or), once `until` holds for them;
  /// fails after `limit`.
  @discardableResult
  func await(
    _ matches: [String], within limit: Duration = .seconds(300),
    until: ([[String: String]]) -> Bool
  ) throws -> [[String: String]] {
    let entries = try Journald.follow(
      ["--unit=\(unit)"] + matches, after: cursor, within: limit, launcher: container.launcher,
      until: until)
    guard until(entries) else {
      let log = (try? container.run(["journalctl", "-u", unit, "-n", "30", "--no-pager"]))?.output
      throw TestFiles.Missing(
        "journalctl -u \(unit) \(matches.joined(separator: " ")) did not reach the expected "
          + "state within \(limit): \(entries.map { $0["MESSAGE"] ?? "" }); the unit's log:\n"
          + (log ?? ""))
    }
    return entries
  }

  /// The unit's `StatusText` (what `systemctl status` shows as Status:) once `done` holds for
  /// it; fails after `limit`. Read again whenever the unit logs, and at least every second:
  /// systemd logs nothing when the text changes.
  @discardableResult
  func awaitStatusText(
    within limit: Duration = .seconds(300), until done: (String) -> Bool
  ) throws -> String {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while true {
      let newest = try Journald.cursor(launcher: container.launcher)
      let text = try container.succeed([
        "systemctl", "show", "-p", "StatusText", "--value", unit,
      ]).trimmingCharacters(in: .whitespacesAndNewlines)
      if done(text) { return text }
      guard clock.now < deadline else {
        throw TestFiles.Missing("\(unit)'s StatusText is still \"\(text)\" after \(limit)")
      }
      _ = try Journald.follow(
        ["--unit=\(unit)"], after: newest,
        within: max(.zero, min(.seconds(1), deadline - clock.now)),
        launcher: container.launcher
      ) { !$0.isEmpty }
    }
  }
}
