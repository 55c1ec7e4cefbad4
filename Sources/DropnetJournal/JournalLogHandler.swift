import CSystemd
import Foundation
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// A swift-log handler that sends each entry to journald over its native protocol
/// (`sd_journal_sendv`), with structured fields, or writes a readable line to stderr, as
/// systemd's own tools decide (`Target.detect`): the journal when the process's stderr is
/// already the journal (`$JOURNAL_STREAM`, set by systemd for a service) or when journald's
/// socket exists and stderr is not a terminal; stderr otherwise (a terminal, a container or CI
/// box without journald, where `sd_journal_sendv` would drop entries without an error). An
/// entry journald refuses is written to stderr too.
///
/// Fields sent: `MESSAGE`, `PRIORITY` (syslog levels: trace and debug 7, info 6, notice 5,
/// warning 4, error 3, critical 2), `SYSLOG_IDENTIFIER`, `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`,
/// `DROPNET_LOGGER` (the logger's label), `DROPNET_ERROR` when the entry carries an error, and
/// every metadata key as an upper-case field with a `DROPNET_` prefix (`event` becomes
/// `DROPNET_EVENT`, `val-accuracy` becomes `DROPNET_VAL_ACCURACY`), so
/// `journalctl DROPNET_EVENT=published` finds entries by meaning.
public struct JournalLogHandler: LogHandler {
  /// Where entries go.
  public enum Target: String, Sendable {
    /// journald's native protocol, structured fields.
    case journal
    /// Readable lines on stderr.
    case standardError = "stderr"

    /// journald's socket for the native protocol.
    public static let journalSocket = "/run/systemd/journal/socket"

    /// The target systemd's convention gives: `override` ("journal" or "stderr", from
    /// `$DROPNET_LOG_TARGET`) when set; the journal when `journalStream` (`$JOURNAL_STREAM`,
    /// "device:inode") names stderr (`standardErrorIdentity`), or when `socketExists` and
    /// stderr is not a terminal; stderr otherwise.
    public static func detect(
      override: String?, journalStream: String?, standardErrorIdentity: String?,
      socketExists: Bool, standardErrorIsTerminal: Bool
    ) -> Target {
      if let override, let target = Target(rawValue: override) { return target }
      if let journalStream, journalStream == standardErrorIdentity { return .journal }
      return socketExists && !standardErrorIsTerminal ? .journal : .standardError
    }

    /// `detect` for this process.
    public static var current: Target {
      let environment = ProcessInfo.processInfo.environment
      var info = stat()
      let identity =
        fstat(2, &info) == 0 ? "\(info.st_dev):\(info.st_ino)" : nil
      return detect(
        override: environment["DROPNET_LOG_TARGET"], journalStream: environment["JOURNAL_STREAM"],
        standardErrorIdentity: identity, socketExists: access(journalSocket, F_OK) == 0,
        standardErrorIsTerminal: isatty(2) == 1)
    }
  }

  /// The logger's label, sent as `DROPNET_LOGGER`.
  public let label: String
  /// Where entries go (decided when the handler is made).
  public let target: Target
  /// Sent as `SYSLOG_IDENTIFIER` (what `journalctl -t` filters on).
  public let syslogIdentifier: String
  /// Receives one readable line (with its newline) when journald refuses an entry.
  public let fallback: @Sendable (String) -> Void
  public var metadata: Logger.Metadata = [:]
  public var metadataProvider: Logger.MetadataProvider?
  public var logLevel: Logger.Level = .info

  /// Creates a handler; `target` defaults to what systemd's convention gives for this process,
  /// `fallback` (the readable lines) to writing them to stderr.
  public init(
    label: String, syslogIdentifier: String = "dropnet",
    metadataProvider: Logger.MetadataProvider? = nil, target: Target = .current,
    fallback: @escaping @Sendable (String) -> Void = JournalLogHandler.writeToStandardError
  ) {
    self.label = label
    self.target = target
    self.syslogIdentifier = syslogIdentifier
    self.metadataProvider = metadataProvider
    self.fallback = fallback
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var merged = metadata
    if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
    if let own = event.metadata { merged.merge(own) { $1 } }
    if target == .journal, JournalLogHandler.send(journalFields(event, metadata: merged)) {
      return
    }
    fallback(readableLine(event, metadata: merged))
  }

  /// The journal fields of an entry, in the order sent.
  func journalFields(_ event: LogEvent, metadata: Logger.Metadata) -> [(String, String)] {
    var fields: [(String, String)] = [
      ("MESSAGE", event.message.description),
      ("PRIORITY", String(JournalLogHandler.priority(event.level))),
      ("SYSLOG_IDENTIFIER", syslogIdentifier),
      ("CODE_FILE", event.file),
      ("CODE_LINE", String(event.line)),
      ("CODE_FUNC", event.function),
      ("DROPNET_LOGGER", label),
    ]
    if let error = event.error { fields.append(("DROPNET_ERROR", String(describing: error))) }
    for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
      fields.append((JournalLogHandler.fieldName(key), JournalLogHandler.text(value)))
    }
    return fields
  }

  /// A journal field name for a metadata key: `DROPNET_` and the key in upper case, anything
  /// but letters and digits turned into `_`, at most 64 bytes (journald's limit).
  public static func fieldName(_ key: String) -> String {
    let cleaned = key.uppercased().unicodeScalars.map { scalar -> Character in
      switch scalar {
      case "A"..."Z", "0"..."9": Character(scalar)
      default: "_"
      }
    }
    return String(("DROPNET_" + String(cleaned)).prefix(64))
  }

  /// The syslog priority journald stores for a swift-log level.
  public static func priority(_ level: Logger.Level) -> Int {
    switch level {
    case .trace, .debug: 7
    case .info: 6
    case .notice: 5
    case .warning: 4
    case .error: 3
    case .critical: 2
    }
  }

  /// Sends the fields with `sd_journal_sendv`; false when journald did not take them.
  static func send(_ fields: [(String, String)]) -> Bool {
    // Each iovec is "NAME=value"; values may hold newlines (the native protocol allows it).
    // All fields live in one buffer so every iovec stays valid during the call.
    var joined: [UInt8] = []
    var ranges: [Range<Int>] = []
    for (name, value) in fields {
      let start = joined.count
      joined += Array((name + "=" + value).utf8)
      ranges.append(start..<joined.count)
    }
    let result = joined.withUnsafeMutableBytes { bytes in
      var vectors = ranges.map {
        iovec(iov_base: bytes.baseAddress! + $0.lowerBound, iov_len: $0.count)
      }
      return sd_journal_sendv(&vectors, Int32(vectors.count))
    }
    return result >= 0
  }

  /// `2026-11-29T19:50:57Z warning dropnet: message event=published label=cat (File.swift:12)`
  func readableLine(_ event: LogEvent, metadata: Logger.Metadata) -> String {
    var line =
      "\(JournalLogHandler.timestamp()) \(event.level) \(syslogIdentifier): \(event.message)"
    for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
      line += " \(key)=\(JournalLogHandler.text(value))"
    }
    if let error = event.error { line += " error=\(error)" }
    let file = event.file.split(separator: "/").last.map(String.init) ?? event.file
    return line + " (\(file):\(event.line))\n"
  }

  /// Writes a line to stderr in one `write`, so lines from threads do not interleave.
  @Sendable public static func writeToStandardError(_ line: String) {
    var bytes = Array(line.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
  }

  private static func text(_ value: Logger.Metadata.Value) -> String {
    switch value {
    case .string(let string): string
    case .stringConvertible(let convertible): convertible.description
    case .array, .dictionary: value.description
    }
  }

  /// UTC time to the second, ISO 8601.
  private static func timestamp() -> String {
    var now = time(nil)
    var parts = tm()
    gmtime_r(&now, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
      + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
  }
}
