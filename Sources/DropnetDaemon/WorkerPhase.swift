import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// What the service loop is doing, shared with the signal thread so SIGTERM can end a training
/// pass that cannot stop by itself without ever cutting a publish in half.
public final class WorkerPhase: Sendable {
  /// The loop's phases.
  public enum Phase: String, Sendable {
    /// Waiting for events, or between pieces of work.
    case idle
    /// Extracting frames (stops by itself between frames when asked).
    case extracting
    /// Training a pass that cannot stop by itself: nothing of it is written until it ends, so
    /// it may be abandoned.
    case training
    /// Writing results: never interrupted.
    case committing
    /// The loop has ended.
    case finished
  }

  private let phase = Mutex(Phase.idle)

  public init() {}

  /// The current phase.
  public var current: Phase { phase.withLock { $0 } }

  /// Sets the phase (not into or out of `committing`: use `commit`).
  public func set(_ new: Phase) { phase.withLock { $0 = new } }

  /// Runs `body` as `committing`: an abandon waits for it to end.
  public func commit<Result>(_ body: () throws -> Result) rethrows -> Result {
    let before = phase.withLock { phase -> Phase in
      defer { phase = .committing }
      return phase
    }
    defer { phase.withLock { $0 = before } }
    return try body()
  }

  /// Waits until the loop finished or sits in abandonable training; in the latter case runs
  /// `beforeExit` and ends the process with status 0 while holding the phase, so no commit can
  /// start. Polls every 50 ms (production path: the stop thread, never a test's).
  public func abandonTrainingWhenStopping(beforeExit: () -> Void) {
    while true {
      let exited = phase.withLock { phase -> Bool in
        switch phase {
        case .finished: return true
        case .training:
          beforeExit()
          _exit(0)
        default: return false
        }
      }
      if exited { return }
      usleep(50_000)
    }
  }
}
