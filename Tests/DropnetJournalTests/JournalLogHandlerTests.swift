import DropnetTestSupport
import Foundation
import Logging
import Synchronization
import XCTest

@testable import DropnetJournal

/// Lines the handler fell back to, collected across threads.
final class LineCollector: Sendable {
  private let lines = Mutex<[String]>([])
  var all: [String] { lines.withLock { $0 } }
  func append(_ line: String) { lines.withLock { $0.append(line) } }
}

/// The journald handler against a real systemd-journald started by the test (as root), read
/// back with `journalctl -o json`; and its stderr fallback when no journald listens.
final class JournalLogHandlerTests: XCTestCase {
  func testFieldNamesAndPriorities() {
    XCTAssertEqual(JournalLogHandler.fieldName("event"), "DROPNET_EVENT")
    XCTAssertEqual(JournalLogHandler.fieldName("val-accuracy"), "DROPNET_VAL_ACCURACY")
    XCTAssertEqual(JournalLogHandler.fieldName("model.version"), "DROPNET_MODEL_VERSION")
    XCTAssertEqual(JournalLogHandler.fieldName("étiquette"), "DROPNET__TIQUETTE")
    XCTAssertEqual(JournalLogHandler.fieldName(String(repeating: "k", count: 100)).utf8.count, 64)
    XCTAssertEqual(
      Logger.Level.allCases.map(JournalLogHandler.priority), [7, 7, 6, 5, 4, 3, 2])
  }

  func testTargetFollowsSystemdsConvention() {
    typealias Row = (
      override: String?, stream: String?, stderr: String?, socket: Bool, terminal: Bool,
      expected: JournalLogHandler.Target
    )
    let table: [Row] = [
      // A service whose stderr is the journal: native protocol, whatever else holds.
      (nil, "8:123", "8:123", false, false, .journal),
      // Run by hand from a shell: readable lines on the terminal.
      (nil, nil, "136:2", true, true, .standardError),
      // Piped or redirected on a machine with journald: the journal.
      (nil, nil, "0:5", true, false, .journal),
      // No journald at all (a container, a CI box): stderr, never a silent drop.
      (nil, nil, "0:5", false, false, .standardError),
      // JOURNAL_STREAM inherited from a service but stderr redirected elsewhere.
      (nil, "8:123", "0:5", false, false, .standardError),
      // Told explicitly.
      ("stderr", "8:123", "8:123", true, false, .standardError),
      ("journal", nil, nil, false, true, .journal),
      ("nonsense", nil, nil, false, true, .standardError),
    ]
    for row in table {
      XCTAssertEqual(
        JournalLogHandler.Target.detect(
          override: row.override, journalStream: row.stream, standardErrorIdentity: row.stderr,
          socketExists: row.socket, standardErrorIsTerminal: row.terminal), row.expected,
        "\(row)")
    }
  }

  func testReadableFallbackLine() {
    let handler = JournalLogHandler(label: "dropnet.serve", fallback: { _ in })
    let event = LogEvent(
      level: .warning, message: "no frames in movie", metadata: nil, source: nil,
      file: "Sources/DropnetDataset/Extractor.swift", function: "extract()", line: 42)
    let line = handler.readableLine(event, metadata: ["movie": "cat.mov", "event": "error"])
    XCTAssertTrue(
      line.hasSuffix(
        " warning dropnet: no frames in movie event=error movie=cat.mov (Extractor.swift:42)\n"),
      line)
    XCTAssertNotNil(
      line.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "#, options: .regularExpression))
  }

  func testEntriesReachARealJournaldWithStructuredFields() throws {
    guard getuid() == 0 else { throw XCTSkip("starting systemd-journald needs root") }
    guard FileManager.default.isExecutableFile(atPath: Journald.executable) else {
      throw XCTSkip("\(Journald.executable) is not installed (Debian package systemd)")
    }
    let run = UUID().uuidString
    let fallbackLines = LineCollector()
    var logger = Logger(label: "dropnet.test") {
      JournalLogHandler(
        label: $0, syslogIdentifier: "dropnet-test", target: .journal,
        fallback: fallbackLines.append)
    }
    logger[metadataKey: "test-run"] = "\(run)"

    // No journald yet (unless the machine runs one): journald refuses the entry, which becomes
    // a readable line.
    let journaldWasRunning = DatagramListener.isListening(Journald.socket)
    // (Where the socket file does not exist at all, libsystemd drops the entry without an
    // error: that is why the handler picks stderr itself there, see Target.detect.)
    if !journaldWasRunning && FileManager.default.fileExists(atPath: Journald.socket) {
      logger.warning("before journald", metadata: ["event": "probe"])
      XCTAssertEqual(fallbackLines.all.count, 1)
      XCTAssertTrue(
        fallbackLines.all.first?.contains(
          "warning dropnet-test: before journald event=probe test-run=\(run)") ?? false,
        "\(fallbackLines.all)")
    }

    let journald = journaldWasRunning ? nil : try Journald.start()
    defer {
      if let journald {
        journald.terminate()
        journald.waitUntilExit()
      }
    }
    let linesBefore = fallbackLines.all.count
    logger.notice(
      "published model v7\nval acc 0.96",
      metadata: [
        "event": "published", "label": "thumbs_up", "movie": "thumbs_up/clip 2.mov",
        "val_accuracy": "0.96", "model_version": "7",
      ])
    logger.error("extraction failed", metadata: ["event": "error"])
    XCTAssertEqual(fallbackLines.all.count, linesBefore, "journald refused: \(fallbackLines.all)")

    // The query the README documents, narrowed to this run.
    let published = try Self.readJournal(
      matches: ["DROPNET_EVENT=published", "DROPNET_TEST_RUN=\(run)"], count: 1)
    XCTAssertEqual(published.count, 1)
    let entry = try XCTUnwrap(published.first)
    XCTAssertEqual(entry["MESSAGE"], "published model v7\nval acc 0.96")
    XCTAssertEqual(entry["PRIORITY"], "5")
    XCTAssertEqual(entry["SYSLOG_IDENTIFIER"], "dropnet-test")
    XCTAssertEqual(entry["DROPNET_LOGGER"], "dropnet.test")
    XCTAssertEqual(entry["DROPNET_LABEL"], "thumbs_up")
    XCTAssertEqual(entry["DROPNET_MOVIE"], "thumbs_up/clip 2.mov")
    XCTAssertEqual(entry["DROPNET_VAL_ACCURACY"], "0.96")
    XCTAssertEqual(entry["DROPNET_MODEL_VERSION"], "7")
    XCTAssertEqual(entry["_TRANSPORT"], "journal")
    XCTAssertTrue(entry["CODE_FILE"]?.hasSuffix("JournalLogHandlerTests.swift") ?? false)
    XCTAssertNotNil(Int(entry["CODE_LINE"] ?? ""))
    XCTAssertEqual(entry["CODE_FUNC"], "testEntriesReachARealJournaldWithStructuredFields()")

    let all = try Self.readJournal(matches: ["DROPNET_TEST_RUN=\(run)"], count: 2)
    XCTAssertEqual(all.map { $0["DROPNET_EVENT"] }, ["published", "error"])
    XCTAssertEqual(all.last?["PRIORITY"], "3")
  }

  /// The entries matching all `matches` once `count` of them have appeared, or what came
  /// within 20 s.
  static func readJournal(matches: [String], count: Int) throws -> [[String: String]] {
    try Journald.follow(matches, within: .seconds(20)) { $0.count >= count }
  }
}
