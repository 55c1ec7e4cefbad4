/// An error from journald logging or service-manager notification, saying what happened and
/// what to do.
public struct JournalError: Error, CustomStringConvertible, Sendable {
  /// What went wrong; extensible.
  public struct Code: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// `sd_notify` could not send to `$NOTIFY_SOCKET`.
    public static let notifyFailed = Code("notify_failed")
    /// `$WATCHDOG_USEC` or `$WATCHDOG_PID` could not be parsed.
    public static let invalidWatchdogSetting = Code("invalid_watchdog_setting")
  }

  public var code: Code
  /// What happened and what to do about it.
  public var message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { message }
}
