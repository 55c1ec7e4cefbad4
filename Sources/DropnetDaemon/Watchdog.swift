import DropnetJournal
import Foundation
import Synchronization

/// Sends `WATCHDOG=1` every half `WatchdogSec=` from its own thread, which nothing else
/// (training, extraction) ever blocks: a long training pass is not mistaken for a hang. A
/// crashed or deadlocked process stops pinging, and systemd restarts it.
public final class Watchdog: Sendable {
  private let stopped = Mutex(false)

  /// Starts pinging when systemd set a watchdog (`$WATCHDOG_USEC`); does nothing otherwise.
  public init(notifier: SystemdNotifier) {
    guard let interval = try? notifier.watchdogInterval() else { return }
    let half = interval / 2
    let thread = Thread { [self] in
      let clock = ContinuousClock()
      while !self.stopped.withLock({ $0 }) {
        _ = try? notifier.watchdog()
        let wake = clock.now + half
        // Short naps so `stop` ends the thread quickly.
        while clock.now < wake, !self.stopped.withLock({ $0 }) {
          Thread.sleep(forTimeInterval: 0.1)
        }
      }
    }
    thread.name = "dropnet-watchdog"
    thread.start()
  }

  /// Stops the pings.
  public func stop() { stopped.withLock { $0 = true } }
}
