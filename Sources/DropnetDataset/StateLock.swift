import Foundation

/// An exclusive lock on a state folder (flock on `state/.lock`), so two dropnet processes never
/// extract or train into the same folder at once. Released when the value is deinitialised or
/// the process dies.
public final class StateLock {
  private let descriptor: Int32

  /// Takes the lock without waiting; throws `stateLocked` when another process holds it.
  public init(stateFolder: URL) throws {
    let path = stateFolder.appendingPathComponent(".lock").path
    descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else {
      throw DatasetError(
        .io, path: path, "cannot create the lock file (\(String(cString: strerror(errno))))")
    }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
      close(descriptor)
      throw DatasetError(
        .stateLocked, path: stateFolder.path,
        "another dropnet process is using this state folder; stop it or choose another --state")
    }
  }

  deinit { close(descriptor) }
}
