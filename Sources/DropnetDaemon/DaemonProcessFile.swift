import DropnetStorage
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// `state/daemon.pid`: the running daemon's process id in a `LockFile` held for the daemon's
/// life, so a second daemon on the same state folder is refused and `dropnet rebuild` can tell
/// a live daemon from a stale file.
public final class DaemonProcessFile {
  public static let fileName = "daemon.pid"
  private let file: LockFile

  /// Takes the lock and writes this process's id; throws `.alreadyRunning` naming the other pid.
  public init(stateFolder: URL) throws {
    let path = stateFolder.appendingPathComponent(Self.fileName).path
    let file: LockFile?
    do {
      file = try LockFile(path: path)
    } catch {
      throw DaemonError(.folder, "\(error); check the state folder's permissions")
    }
    guard let file else {
      let other = Self.runningDaemon(stateFolder: stateFolder).map { " (pid \($0))" } ?? ""
      throw DaemonError(
        .alreadyRunning,
        "another dropnet serve\(other) uses the state folder \(stateFolder.path); stop it "
          + "(systemctl stop dropnet) or choose another folders.state")
    }
    file.write("\(getpid())\n")
    self.file = file
  }

  /// The pid of the daemon running on `stateFolder`, or nil when none holds the lock.
  public static func runningDaemon(stateFolder: URL) -> Int32? {
    LockFile.holderText(at: stateFolder.appendingPathComponent(fileName).path).flatMap {
      Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
  }
  /// Sends `signal` to the daemon running on `stateFolder`; returns its pid.
  @discardableResult
  public static func signal(_ signal: Int32, stateFolder: URL) throws -> Int32 {
    guard let pid = runningDaemon(stateFolder: stateFolder) else {
      throw DaemonError(
        .notRunning,
        "no dropnet serve runs on \(stateFolder.path) (no live \(fileName)); start it "
          + "(systemctl start dropnet) or pass the state folder it uses")
    }
    guard kill(pid, signal) == 0 else {
      throw DaemonError(
        .notRunning,
        "cannot signal pid \(pid) (\(String(cString: strerror(errno)))); run as the daemon's "
          + "user or root")
    }
    return pid
  }
}
