import Synchronization

/// A process-wide "one at a time" flag: libinotifytools keeps its inotify instance in globals.
final class ProcessInstanceLock: Sendable {
  private let taken = Mutex(false)

  /// Takes the flag; false when it is already taken.
  func claim() -> Bool {
    taken.withLock { taken in
      if taken { return false }
      taken = true
      return true
    }
  }

  /// Gives the flag back.
  func release() {
    taken.withLock { $0 = false }
  }
}
