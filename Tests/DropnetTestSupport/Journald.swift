import Foundation

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
}
