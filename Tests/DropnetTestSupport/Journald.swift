import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A real systemd-journald for tests that read their log entries back (needs root).
public enum Journald {
  /// The daemon's binary on Debian (package systemd).
  public static let executable = "/lib/systemd/systemd-journald"
  /// Where journald takes native-protocol entries (`sd_journal_sendv`).
  public static let socket = "/run/systemd/journal/socket"
  static let journalctl = URL(fileURLWithPath: "/usr/bin/journalctl")

  /// Starts systemd-journald and waits for its `READY=1` on a notify socket of our own;
  /// throws `TestFiles.Missing` when it is not installed or not ready within 20 s.
  public static func start() throws -> Process {
    // journald creates its sockets in /run/systemd/journal, but not the folder.
    try FileManager.default.createDirectory(
      atPath: "/run/systemd/journal", withIntermediateDirectories: true)
    guard FileManager.default.isExecutableFile(atPath: executable) else {
      throw TestFiles.Missing("\(executable) is not installed (Debian package systemd)")
    }
    let listener = try DatagramListener(
      path: NSTemporaryDirectory() + "dropnet-journald-\(UUID().uuidString.prefix(8)).sock")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    var environment = ProcessInfo.processInfo.environment
    environment["NOTIFY_SOCKET"] = listener.path
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(20)
    while clock.now < deadline {
      // Never negative: poll() takes a negative timeout as "wait forever".
      guard let message = listener.receive(within: max(.zero, deadline - clock.now)) else { break }
      if message.split(separator: "\n").contains("READY=1") { return process }
    }
    process.terminate()
    process.waitUntilExit()
    throw TestFiles.Missing("systemd-journald did not report READY=1 within 20 s")
  }

  /// The journalctl command line for `arguments`: this machine's journalctl, or journalctl run
  /// through `launcher` (e.g. `nsenter -t PID -a -F`, for a container's journal).
  static func journalctl(_ arguments: [String], launcher: [String]) -> (URL, [String]) {
    guard let first = launcher.first else { return (journalctl, arguments) }
    return (URL(fileURLWithPath: first), launcher.dropFirst() + ["journalctl"] + arguments)
  }

  /// The cursor of the journal's newest entry, nil when it has none: `follow(after:)` then
  /// reads only the entries logged later. `launcher`: see `journalctl(_:launcher:)`.
  public static func cursor(launcher: [String] = []) throws -> String? {
    let (executable, arguments) = journalctl(
      ["--lines=1", "--output=json", "--no-pager"], launcher: launcher)
    let newest = try ChildProcess.run(executable, arguments)
    return newest.output.split(separator: "\n").lazy.compactMap {
      (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["__CURSOR"]
        as? String
    }.last
  }

  /// Follows the journal (`journalctl --follow -o json`) until `until` holds for the entries
  /// matching all `matches` and logged after the entry at `cursor` (all when nil), or `limit`
  /// has passed; returns their fields as text. `launcher`: see `journalctl(_:launcher:)`.
  ///
  /// `cursor` matters when matching on `_PID`: the journal keeps older processes' entries, and
  /// a pid is reused once the kernel's pid counter wraps (32768 by default).
  public static func follow(
    _ matches: [String], after cursor: String? = nil, within limit: Duration,
    launcher: [String] = [], until: ([[String: String]]) -> Bool
  ) throws -> [[String: String]] {
    let (executable, arguments) = journalctl(
      ["--follow", "--lines=all", "--output=json", "--no-pager"]
        // Not --after-cursor: with matches, it also skips the first matching entry after the
        // cursor (journalctl skips one entry past wherever the seek lands).
        + (cursor.map { ["--cursor=\($0)"] } ?? []) + matches, launcher: launcher)
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    defer {
      process.terminate()
      process.waitUntilExit()
    }
    let descriptor = output.fileHandleForReading.fileDescriptor
    var buffered: [UInt8] = []
    var entries: [[String: String]] = []
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while !until(entries), clock.now < deadline {
      // Never negative: poll() takes a negative timeout as "wait forever".
      let (seconds, attoseconds) = max(.zero, deadline - clock.now).components
      var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      let milliseconds = Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
      guard poll(&waiting, 1, milliseconds) == 1 else { break }
      var chunk = [UInt8](repeating: 0, count: 65536)
      let read = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
      guard read > 0 else { break }
      buffered += chunk[0..<read]
      while let newline = buffered.firstIndex(of: 10) {
        let line = Data(buffered[0..<newline])
        buffered.removeSubrange(0...newline)
        guard let object = try JSONSerialization.jsonObject(with: line) as? [String: Any] else {
          continue
        }
        // --cursor starts at the cursor's own entry (when it matches): it is older.
        if let cursor, object["__CURSOR"] as? String == cursor { continue }
        entries.append(object.mapValues(text))
      }
    }
    return entries
  }

  /// journalctl writes fields with unprintable bytes (e.g. newlines) as arrays of bytes.
  static func text(_ value: Any) -> String {
    if let bytes = value as? [NSNumber] {
      return String(decoding: bytes.map { $0.uint8Value }, as: UTF8.self)
    }
    return value as? String ?? String(describing: value)
  }
}
