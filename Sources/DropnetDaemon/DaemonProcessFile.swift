import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// `state/daemon.pid`: the running daemon's process id, under an exclusive flock held for the
/// daemon's life, so a second daemon on the same state folder is refused and `dropnet rebuild`
/// can tell a live daemon from a stale file.
public final class DaemonProcessFile {
  public static let fileName = "daemon.pid"
  private let descriptor: Int32

  /// Takes the lock and writes this process's id; throws `.alreadyRunning` naming the other pid.
  public init(stateFolder: URL) throws {
    let path = stateFolder.appendingPathComponent(Self.fileName).path
    descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw DaemonError(
        .folder,
        "cannot create \(path) (\(String(cString: strerror(errno)))); check the state "
          + "folder's permissions")
    }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      let other = Self.readPID(descriptor).map { " (pid \($0))" } ?? ""
      close(descriptor)
      throw DaemonError(
        .alreadyRunning,
        "another dropnet serve\(other) uses the state folder \(stateFolder.path); stop it "
          + "(systemctl stop dropnet) or choose another folders.state")
    }
    let text = Array("\(getpid())\n".utf8)
    _ = ftruncate(descriptor, 0)
    _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    fsync(descriptor)
  }

  deinit { close(descriptor) }

  /// The pid of the daemon running on `stateFolder`, or nil when none holds the lock.
  public static func runningDaemon(stateFolder: URL) -> Int32? {
    let path = stateFolder.appendingPathComponent(fileName).path
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    // A shared lock we can take means no daemon holds the exclusive one.
    if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
      flock(descriptor, LOCK_UN)
      return nil
    }
    return readPID(descriptor)
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

  private static func readPID(_ descriptor: Int32) -> Int32? {
    var buffer = [UInt8](repeating: 0, count: 32)
    let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
    guard count > 0 else { return nil }
    return Int32(
      String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(
        in: .whitespacesAndNewlines))
  }
}
