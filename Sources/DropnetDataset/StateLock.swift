import DropnetStorage
import Foundation

/// An exclusive lock on a state folder (`state/.lock`, a `LockFile`), so two dropnet processes
/// never extract or train into the same folder at once. Released when the value is
/// deinitialised or the process dies.
public final class StateLock {
  private let file: LockFile

  /// Takes the lock without waiting; throws `stateLocked` when another process holds it.
  public init(stateFolder: URL) throws {
    let path = stateFolder.appendingPathComponent(".lock").path
    let file: LockFile?
    do {
      file = try LockFile(path: path)
    } catch {
      throw DatasetError(.io, path: path, "cannot create the lock file: \(error)")
    }
    guard let file else {
      throw DatasetError(
        .stateLocked, path: stateFolder.path,
        "another dropnet process is using this state folder; stop it or choose another --state")
    }
    self.file = file
  }
}
