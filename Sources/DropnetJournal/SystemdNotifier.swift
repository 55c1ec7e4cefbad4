import CSystemd

#if canImport(Glibc)
  import Glibc
#endif

/// Tells the service manager (systemd, through `$NOTIFY_SOCKET`) how the daemon is doing:
/// `READY=1`, `STATUS=...`, `WATCHDOG=1`, `RELOADING=1`, `EXTEND_TIMEOUT_USEC=`, `STOPPING=1`
/// (`sd_notify`).
///
/// Outside systemd (`$NOTIFY_SOCKET` unset) every call does nothing and returns false, so the
/// daemon calls it unconditionally.
public struct SystemdNotifier: Sendable {
  /// Creates a notifier; it reads `$NOTIFY_SOCKET` at each call.
  public init() {}

  /// Whether a service manager listens (`$NOTIFY_SOCKET` is set).
  public var isListening: Bool { getenv("NOTIFY_SOCKET") != nil }

  /// Sends newline-separated assignments as they are; true when sent, false when no service
  /// manager listens.
  @discardableResult
  public func notify(_ assignments: String) throws -> Bool {
    let result = sd_notify(0, assignments)
    if result < 0 {
      throw JournalError(
        .notifyFailed,
        "could not notify the service manager (\(String(cString: strerror(-result)))); check "
          + "$NOTIFY_SOCKET and that the unit has Type=notify")
    }
    return result > 0
  }

  /// Start-up is finished (`READY=1`), optionally with a first status line.
  @discardableResult
  public func ready(status: String? = nil) throws -> Bool {
    try notify("READY=1" + (status.map { "\nSTATUS=" + Self.oneLine($0) } ?? ""))
  }

  /// The one-line status `systemctl status` shows (`STATUS=...`); newlines become spaces.
  @discardableResult
  public func status(_ text: String) throws -> Bool {
    try notify("STATUS=" + Self.oneLine(text))
  }

  /// Keeps the watchdog from restarting the service (`WATCHDOG=1`); send it every
  /// `watchdogInterval / 2`.
  @discardableResult
  public func watchdog() throws -> Bool { try notify("WATCHDOG=1") }

  /// A reload began (`RELOADING=1` with the monotonic time, as Type=notify-reload wants); send
  /// `ready()` when it is done.
  @discardableResult
  public func reloading() throws -> Bool {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let microseconds = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    return try notify("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
  }

  /// Asks for more time to start, reload or stop (`EXTEND_TIMEOUT_USEC=`), e.g. during a long
  /// initial scan; the service manager then waits at least `extra` from now.
  @discardableResult
  public func extendTimeout(by extra: Duration) throws -> Bool {
    let (seconds, attoseconds) = extra.components
    let microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    return try notify("EXTEND_TIMEOUT_USEC=\(microseconds)")
  }

  /// Shutdown began (`STOPPING=1`).
  @discardableResult
  public func stopping() throws -> Bool { try notify("STOPPING=1") }

  /// The watchdog timeout systemd set for this process (`WatchdogSec=`, through
  /// `$WATCHDOG_USEC` and `$WATCHDOG_PID`), or nil when there is none.
  public func watchdogInterval() throws -> Duration? {
    var microseconds: UInt64 = 0
    let result = sd_watchdog_enabled(0, &microseconds)
    if result < 0 {
      throw JournalError(
        .invalidWatchdogSetting,
        "$WATCHDOG_USEC or $WATCHDOG_PID is not a number (\(String(cString: strerror(-result))))")
    }
    return result > 0 ? .microseconds(Int64(microseconds)) : nil
  }

  private static func oneLine(_ text: String) -> String {
    String(text.map { $0.isNewline ? " " : $0 })
  }
}
