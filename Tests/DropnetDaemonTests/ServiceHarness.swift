import DropnetTestSupport
import Foundation
import XCTest

/// Runs the real `dropnet serve` for end-to-end tests: a real systemd-journald (started here
/// as root when none runs), a `NOTIFY_SOCKET` the test listens on, and the journal read back
/// with `journalctl`. Nothing sleeps: every wait is for an event, with a deadline.
final class ServiceHarness {
  let folder: URL
  let drop: URL
  let state: URL
  let output: URL
  let notify: DatagramListener
  private(set) var process: Process?
  /// The journal's newest entry before the running daemon started: its pid may have been
  /// another process's, whose entries are older.
  private var journalCursor: String?
  private var journaldProcess: Process?
  /// Notifications received so far; a thread drains the socket at once, as systemd does (an
  /// unread socket fills up and blocks the daemon's sd_notify).
  private let notifications = NotificationLog()

  /// A temporary drop/state/output layout and a notify socket; starts journald if needed.
  init(output: URL? = nil) throws {
    guard getuid() == 0 else {
      throw RequiredEnvironment.unavailable("starting systemd-journald needs root")
    }
    folder = try TestFiles.temporaryFolder("serve")
    drop = folder.appendingPathComponent("drop")
    state = folder.appendingPathComponent("state")
    self.output = output ?? folder.appendingPathComponent("models")
    try FileManager.default.createDirectory(at: drop, withIntermediateDirectories: true)
    notify = try DatagramListener(
      path: NSTemporaryDirectory() + "dropnet-notify-\(UUID().uuidString.prefix(8)).sock")
    if !DatagramListener.isListening(Journald.socket) {
      journaldProcess = try Journald.start()
    }
    let listener = notify
    let log = notifications
    let thread = Thread {
      while !log.isClosed {
        if let message = listener.receive(within: .milliseconds(200)) { log.append(message) }
      }
    }
    thread.start()
  }

  deinit {
    notifications.close()
    if let process, process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
    if let journaldProcess {
      journaldProcess.terminate()
      journaldProcess.waitUntilExit()
    }
  }

  /// The small, quick settings the tests run with (CI-sized), plus `extra` flags.
  func start(_ extra: [String] = []) throws {
    let process = Process()
    process.executableURL = try DropnetExecutable.url()
    process.arguments =
      [
        "serve", "--drop", drop.path, "--state", state.path, "--output", output.path,
        "--weights", try DropnetExecutable.imageNetWeights().path, "--settle", "300ms",
        "--debounce", "1s",
        "--max-frames", "24", "--max-frames-per-class", "16", "--min-frames-per-class", "5",
        "--fast-epochs", "3", "--epochs-fresh", "3", "--threads", "2",
      ] + extra
    var environment = ProcessInfo.processInfo.environment
    environment["NOTIFY_SOCKET"] = notify.path
    // As WatchdogSec=1s would (without WATCHDOG_PID, any pid may ping).
    environment["WATCHDOG_USEC"] = "1000000"
    environment["WATCHDOG_PID"] = nil
    process.environment = environment
    let log = folder.appendingPathComponent("serve-\(Date().timeIntervalSince1970).log")
    guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
      throw TestFiles.Missing("cannot create \(log.path)")
    }
    let handle = try FileHandle(forWritingTo: log)
    process.standardOutput = handle
    process.standardError = handle
    journalCursor = try Journald.cursor()
    try process.run()
    self.process = process
  }

  var pid: Int32 { process?.processIdentifier ?? 0 }

  /// Forgets the notifications received so far (before a restart).
  func clearNotifications() { notifications.clear() }

  /// Every notification received so far.
  var notificationsReceived: [String] { notifications.all }

  /// Waits for a notification with a line starting with `assignment` (e.g. `READY=1`,
  /// `STATUS=publishing`); returns all received.
  @discardableResult
  func awaitNotification(_ assignment: String, within limit: Duration = .seconds(120)) throws
    -> [String]
  {
    let received = notifications.await(within: limit) { messages in
      messages.contains { $0.split(separator: "\n").contains { $0.hasPrefix(assignment) } }
    }
    guard let received else {
      throw TestFiles.Missing("no \(assignment) within \(limit); got \(notifications.all)")
    }
    return received
  }

  /// This daemon's journal entries matching `matches` (same field = or), once `until` holds
  /// for them; fails after `limit`.
  @discardableResult
  func awaitJournal(
    _ matches: [String], within limit: Duration = .seconds(150),
    until: ([[String: String]]) -> Bool
  ) throws -> [[String: String]] {
    let entries = try Journald.follow(
      matches + ["_PID=\(pid)"], after: journalCursor, within: limit, until: until)
    guard until(entries) else {
      throw TestFiles.Missing(
        "journal \(matches) did not reach the expected state within \(limit): "
          + "\(entries.map { $0["MESSAGE"] ?? "" }); log in \(folder.path)")
    }
    return entries
  }

  /// Sends `signal` to the daemon.
  func signal(_ signal: Int32) { kill(pid, signal) }

  /// Waits for the daemon to exit; its status, or nil when it did not exit in `limit`.
  func awaitExit(within limit: Duration) -> Int32? {
    guard let process else { return nil }
    let exited = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      process.waitUntilExit()
      exited.signal()
    }
    let (seconds, attoseconds) = limit.components
    let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    guard exited.wait(timeout: .now() + .nanoseconds(nanoseconds)) == .success else { return nil }
    self.process = nil
    return process.terminationStatus
  }

  /// Copies an example movie into the drop folder (written, then closed: IN_CLOSE_WRITE).
  func copyExample(_ name: String, as relative: String) throws {
    let destination = drop.appendingPathComponent(relative)
    try FileManager.default.createDirectory(
      at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: try Self.example(name), to: destination)
  }

  static func example(_ name: String) throws -> URL {
    let url = TestFiles.packageRoot.appendingPathComponent("examples/generated/\(name)")
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw TestFiles.Missing("missing \(url.path): run examples/make-examples.sh")
    }
    return url
  }
}

/// Datagrams received, shared between the draining thread and the test.
final class NotificationLog: @unchecked Sendable {
  private let condition = NSCondition()
  private var messages: [String] = []
  private var closed = false

  var all: [String] { condition.withLock { messages } }
  var isClosed: Bool { condition.withLock { closed } }

  func append(_ message: String) {
    condition.withLock {
      messages.append(message)
      condition.broadcast()
    }
  }

  func close() { condition.withLock { closed = true } }

  func clear() { condition.withLock { messages.removeAll() } }

  /// Waits until `done` holds for the messages, or `limit` passed (then nil).
  func await(within limit: Duration, until done: ([String]) -> Bool) -> [String]? {
    let (seconds, attoseconds) = limit.components
    let deadline = Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) / 1e18)
    return condition.withLock {
      while !done(messages) {
        // `wait(until:)` wakes on each append, or at the deadline.
        if !condition.wait(until: deadline) { return done(messages) ? messages : nil }
      }
      return messages
    }
  }
}
