import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A real systemd-journald for tests that read their log entries back (needs root).
public enum Journald {
  /// The daemon's binary on Debian (package systemd).
  public static let executable = "/lib/systemd/systemd-journald"

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
      guard let message = listener.receive(within: deadline - clock.now) else { break }
      if message.split(separator: "\n").contains("READY=1") { return process }
    }
    process.terminate()
    process.waitUntilExit()
    throw TestFiles.Missing("systemd-journald did not report READY=1 within 20 s")
  }

  /// Follows the journal (`journalctl --follow -o json`) until `until` holds for the entries
  /// matching all `matches` and logged at or after `since`, or `limit` has passed; returns
  /// their fields as text.
  ///
  /// `since` matters when matching on `_PID`: the journal keeps older processes' entries, and
  /// a pid is reused once the kernel's pid counter wraps (32768 by default).
  public static func follow(
    _ matches: [String], since: Date? = nil, within limit: Duration,
    until: ([[String: String]]) -> Bool
  ) throws -> [[String: String]] {
    // __REALTIME_TIMESTAMP is in microseconds since the epoch.
    let earliest = since.map { UInt64(($0.timeIntervalSince1970 * 1e6).rounded(.down)) } ?? 0
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/journalctl")
    process.arguments = ["--follow", "--lines=all", "--output=json", "--no-pager"] + matches
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
      let (seconds, attoseconds) = (deadline - clock.now).components
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
        let logged = (object["__REALTIME_TIMESTAMP"] as? String).flatMap { UInt64($0) } ?? 0
        if logged >= earliest { entries.append(object.mapValues(text)) }
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
