import DropnetTestSupport
import Foundation
import XCTest

/// This machine's own root booted by a real systemd in a container (systemd-nspawn), for tests
/// that install and drive the service as an administrator would: the only way to a real
/// systemd where PID 1 is not systemd.
///
/// boot-container.sh mounts an overlay of `/` in a mount namespace of its own (every write
/// lands in `folder/upper`; the host never sees the mount) and boots it. Commands run inside
/// through nsenter; files inside are reached through `/proc/LEADER/root`. `shutdown()` halts
/// the container and removes its folder and cgroups; `deinit` calls it too.
final class SystemdContainer {
  let folder: URL
  private let name: String
  private var nspawn: Process?
  /// The container's systemd, as this machine numbers it.
  private(set) var leader: Int32 = 0
  private static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("boot-container.sh")

  /// Boots the container and waits for its systemd to finish starting (basic.target), within
  /// `limit`. Throws `RequiredEnvironment.unavailable` when this machine cannot boot one.
  ///
  /// Call it from the test's own thread: systemd-nspawn gets SIGTERM (an orderly halt) when the
  /// thread that started it ends (`setpriv --pdeathsig`), so a crashed test leaves no container.
  init(within limit: Duration = .seconds(120)) throws {
    guard getuid() == 0 else {
      throw RequiredEnvironment.unavailable("booting a container with systemd-nspawn needs root")
    }
    for tool in ["/usr/bin/systemd-nspawn", "/usr/bin/nsenter", "/usr/bin/setpriv"] {
      guard FileManager.default.isExecutableFile(atPath: tool) else {
        throw RequiredEnvironment.unavailable(
          "\(tool) is not installed (Debian packages systemd-container and util-linux: "
            + "examples/install-dependencies.sh --tests)")
      }
    }
    Self.removeStaleCgroups()
    folder = try TestFiles.temporaryFolder("systemd")
    name = "dropnet-test-\(getpid())-\(folder.lastPathComponent.suffix(8).lowercased())"
    let notify = try DatagramListener(path: folder.appendingPathComponent("notify.sock").path)
    let log = folder.appendingPathComponent("nspawn.log")
    guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
      throw TestFiles.Missing("cannot create \(log.path)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
    process.arguments = [
      "--pdeathsig", "TERM", "--", "/bin/bash", Self.script.path, folder.path, name,
      TestFiles.packageRoot.path,
    ]
    var environment = ProcessInfo.processInfo.environment
    environment["NOTIFY_SOCKET"] = notify.path
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    let output = try FileHandle(forWritingTo: log)
    process.standardOutput = output
    process.standardError = output
    try process.run()
    nspawn = process

    // nspawn says X_NSPAWN_LEADER_PID= once the container runs, and READY=1 once its systemd
    // has finished starting (--notify-ready=yes).
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    var ready = false
    while !ready, process.isRunning, clock.now < deadline {
      // One second at a time: a failed boot ends nspawn without a message.
      guard let message = notify.receive(within: max(.zero, min(.seconds(1), deadline - clock.now)))
      else {
        continue
      }
      for line in message.split(separator: "\n") {
        if line.hasPrefix("X_NSPAWN_LEADER_PID=") {
          leader = Int32(line.dropFirst("X_NSPAWN_LEADER_PID=".count)) ?? 0
        }
        if line == "READY=1" { ready = true }
      }
    }
    guard ready, leader > 0 else {
      let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
      shutdown()
      throw RequiredEnvironment.unavailable(
        "systemd-nspawn could not boot this machine's root here within \(limit): \(text)")
    }
    let state = try run(["systemctl", "is-system-running", "--wait"], within: limit).output
    guard ["running", "degraded"].contains(state.trimmingCharacters(in: .whitespacesAndNewlines))
    else {
      let failed = (try? run(["systemctl", "--failed", "--no-pager"]).output) ?? ""
      shutdown()
      throw TestFiles.Missing("the container's systemd is \(state) after booting:\n\(failed)")
    }
  }

  deinit { shutdown() }

  /// `path` (absolute, inside the container) as this process reaches it.
  func url(_ path: String) -> URL {
    URL(fileURLWithPath: "/proc/\(leader)/root\(path)")
  }

  /// The prefix that runs a command inside the container (as `Journald`'s launcher): nsenter
  /// into every namespace, the command ending with nsenter (which does not pass SIGTERM on).
  /// Not `nsenter -F`: `journalctl --follow` in this machine's pid namespace never wakes.
  var launcher: [String] {
    ["/usr/bin/nsenter", "-t", "\(leader)", "-a", "/usr/bin/setpriv", "--pdeathsig", "TERM", "--"]
  }

  /// Runs `command` inside the container (in its pid namespace too: pids it reads and signals
  /// are the container's), killed after `limit`.
  func run(_ command: [String], within limit: Duration = .seconds(120)) throws
    -> ChildProcess.Result
  {
    try ChildProcess.run(
      URL(fileURLWithPath: "/usr/bin/nsenter"),
      [
        "-t", "\(leader)", "-a", "/usr/bin/timeout", "--kill-after=10",
        "\(limit.components.seconds)",
      ]
        + command)
  }

  /// Runs `command` inside the container and returns its output; throws when it fails.
  @discardableResult
  func succeed(_ command: [String], within limit: Duration = .seconds(120)) throws -> String {
    let result = try run(command, within: limit)
    guard result.status == 0, !result.killedBySignal else {
      throw TestFiles.Missing(
        "\(command.joined(separator: " ")) exited with \(result.status):\n\(result.output)")
    }
    return result.output
  }

  /// Halts the container (SIGTERM to nspawn: an orderly shutdown, then at once on a second
  /// SIGTERM), which ends its mount namespace and with it the overlay; removes the cgroups
  /// and the folder. Safe to call again.
  func shutdown() {
    if let process = nspawn {
      for attempt in 0..<3 where process.isRunning {
        kill(process.processIdentifier, attempt < 2 ? SIGTERM : SIGKILL)
        if Self.awaitExit(process, within: .seconds(attempt == 0 ? 60 : 10)) { break }
      }
      nspawn = nil
    }
    let cgroups = folder.appendingPathComponent("cgroups")
    if let list = try? String(contentsOf: cgroups, encoding: .utf8) {
      for cgroup in list.split(separator: "\n") { Self.removeCgroup(String(cgroup)) }
    }
    try? FileManager.default.removeItem(at: folder)
  }

  private static func awaitExit(_ process: Process, within limit: Duration) -> Bool {
    let exited = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
      process.waitUntilExit()
      exited.signal()
    }
    let (seconds, _) = limit.components
    return exited.wait(timeout: .now() + .seconds(Int(seconds))) == .success
  }

  /// Removes a cgroup folder and the ones below it (each empty of processes by now).
  private static func removeCgroup(_ path: String) {
    let manager = FileManager.default
    for child in (try? manager.contentsOfDirectory(atPath: path)) ?? [] {
      var isFolder: ObjCBool = false
      let full = path + "/" + child
      if manager.fileExists(atPath: full, isDirectory: &isFolder), isFolder.boolValue {
        removeCgroup(full)
      }
    }
    rmdir(path)
  }

  /// Cgroups left by test processes that are gone (a crash skips `shutdown()`).
  private static func removeStaleCgroups() {
    for hierarchy in ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
      for entry in (try? FileManager.default.contentsOfDirectory(atPath: hierarchy)) ?? [] {
        let parts = entry.split(separator: "-")
        guard entry.hasPrefix("dropnet-test-"), parts.count >= 4, let pid = Int32(parts[2]),
          kill(pid, 0) != 0
        else { continue }
        removeCgroup(hierarchy + "/" + entry)
      }
    }
  }
}
